"""Keys, tokens and a realmgate configuration shared by every benchmark.

One definition per algorithm, each with its own issuer, an audience, a fixed realm and a
registry holding one mapping rule per subject, so ``Verifier.verify`` runs the whole
pipeline: selection, key lookup, signature, every claim check, the revocation check, the
identity mapping and the trace at its default level. Tokens are 600-900 bytes with the
claims of the performance anchors: iss, sub, aud, iat, exp, nbf, jti and five custom ones.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from realmgate.b64url import b64url_decode
from realmgate.jws_sign import sign_compact
from realmgate.keys.signing import signing_key_from_private
from realmgate.registry import MappingRule, SQLiteRegistry

ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA", "HS256")
AUDIENCE = "api://realmgate-bench"
REALM = "BENCH"
SUBJECTS = 1000
SECRET_ENV = "REALMGATE_BENCH_SECRET"
_SHA256 = hashes.SHA256()
_PKCS1 = padding.PKCS1v15()
_PSS = padding.PSS(mgf=padding.MGF1(_SHA256), salt_length=32)
_ECDSA = ec.ECDSA(_SHA256)


def issuer_of(alg: str) -> str:
    return f"https://idp.example.com/{alg.lower()}"


@dataclass
class AlgKeys:
    alg: str
    private: Any
    """A cryptography private key, or the HMAC secret (bytes)."""
    public: Any
    """A cryptography public key, or the HMAC secret (bytes)."""

    @property
    def kid(self) -> str:
        return self.alg.lower()

    def public_pem(self) -> bytes:
        return bytes(self.public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))


def make_keys() -> dict[str, AlgKeys]:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pss_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.generate()
    secret = os.urandom(32).hex().encode()  # 64 printable bytes: fits an environment variable
    return {
        "RS256": AlgKeys("RS256", rsa_key, rsa_key.public_key()),
        "PS256": AlgKeys("PS256", pss_key, pss_key.public_key()),
        "ES256": AlgKeys("ES256", ec_key, ec_key.public_key()),
        "EdDSA": AlgKeys("EdDSA", ed_key, ed_key.public_key()),
        "HS256": AlgKeys("HS256", secret, secret),
    }


def claims_for(alg: str, rng: random.Random, now: float) -> dict[str, Any]:
    subject = f"user{rng.randrange(SUBJECTS):04d}"
    issued = int(now) - rng.randrange(60)
    return {
        "iss": issuer_of(alg),
        "sub": subject,
        "aud": AUDIENCE,
        "iat": issued,
        "nbf": issued,
        "exp": issued + 3600,
        "jti": str(uuid.UUID(int=rng.getrandbits(128))),
        "scope": "orders:read orders:write profile email",
        "email": f"{subject}@example.com",
        "name": f"Bench User {subject[4:]}",
        "tenant": "acme-production-eu-west-1",
        "roles": ["reader", "writer", "auditor"],
    }


def make_tokens(keys: AlgKeys, count: int, seed: int = 1) -> list[str]:
    """``count`` distinct tokens (distinct jti, random subjects) valid for the next hour."""
    rng = random.Random(seed)
    now = time.time()
    # A shared secret has no key id: the definition has exactly one.
    kid = None if keys.alg == "HS256" else keys.kid
    signer = signing_key_from_private(keys.private, source="bench", kid=kid)
    return [
        sign_compact(claims_for(keys.alg, rng, now), signer, keys.alg, kid=kid)
        for _ in range(count)
    ]


# --- the cryptographic floor ----------------------------------------------------------------


def floor_verifier(keys: AlgKeys) -> Any:
    """``cryptography``'s verify on the already split signing input with a preloaded key
    object: the physical limit for a Python verifier. Returns (prepare, verify): prepare
    turns a token into the arguments verify takes, outside the timed loop."""
    alg, public = keys.alg, keys.public

    def split(token: str) -> tuple[bytes, bytes]:
        head, _, sig = token.rpartition(".")
        return head.encode(), b64url_decode(sig)

    if alg == "RS256":
        return split, lambda m, s: public.verify(s, m, _PKCS1, _SHA256)
    if alg == "PS256":
        return split, lambda m, s: public.verify(s, m, _PSS, _SHA256)
    if alg == "ES256":

        def split_der(token: str) -> tuple[bytes, bytes]:
            message, raw = split(token)
            r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
            return message, encode_dss_signature(r, s)

        return split_der, lambda m, s: public.verify(s, m, _ECDSA)
    if alg == "EdDSA":
        return split, lambda m, s: public.verify(s, m)

    def hs256(message: bytes, signature: bytes) -> None:
        if not hmac.compare_digest(hmac.digest(public, message, "sha256"), signature):
            raise ValueError("bad signature")

    return split, hs256


# --- the realmgate configuration --------------------------------------------------------------


def write_config(directory: Path, keys: dict[str, AlgKeys], **limits: int) -> Path:
    """A configuration trusting every key of ``keys`` plus a registry mapping every subject.
    Sets the HMAC secret's environment variable for this process."""
    trust = directory / "trust"
    trust.mkdir(exist_ok=True)
    blocks = ["[registry]", 'path = "registry.db"', ""]
    if limits:
        blocks.append("[limits]")
        blocks += [f"{name} = {value}" for name, value in limits.items()]
        blocks.append("")
    for alg, key in keys.items():
        blocks += [
            "[[client]]",
            f'id = "{alg.lower()}"',
            f'issuers = ["{issuer_of(alg)}"]',
            f'algorithms = ["{alg}"]',
            f'audiences = ["{AUDIENCE}"]',
            f'realm = "{REALM}"',
            "clock_skew = 60",
        ]
        if alg == "HS256":
            os.environ[SECRET_ENV] = key.public.decode()
            blocks.append(f'shared_secret_env = "{SECRET_ENV}"')
        else:
            (trust / f"{key.kid}.pem").write_bytes(key.public_pem())
            blocks.append(f'trust_store = "trust/{key.kid}.pem"')
        blocks.append("")
    config = directory / "realmgate.toml"
    config.write_text("\n".join(blocks))
    registry = SQLiteRegistry(directory / "registry.db")
    try:
        for i in range(SUBJECTS):
            user = f"user{i:04d}"
            registry.add(MappingRule(user, REALM, f"L{i:04d}", "bench"))
    finally:
        registry.close()
    return config


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]
