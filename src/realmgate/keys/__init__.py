"""Key material and key sources (trust stores, shared secrets, JWKS, discovery)."""
