"""Messages RG0xxx-RG5xxx: usage, and the token's way through the pipeline (extract, select,
keys and signature, claims, identity mapping). Loaded by :mod:`realmgate.messages`.
"""

from __future__ import annotations

from realmgate.catalogue import define

# --- RG0xxx: usage (CLI arguments, HTTP bodies) ---------------------------------------
define(
    "RG0001E",
    "Invalid command-line argument: {detail}.",
    "An argument or option given to the realmgate command is missing, malformed or out of range.",
    "Run the command with --help to see the accepted arguments, then correct the one named.",
)
define(
    "RG0002E",
    "Cannot read {what} from {source}: {detail}.",
    "An input file, standard input or environment variable named on the command line could "
    "not be read.",
    "Check that the path or variable exists and is readable by this user.",
)
define(
    "RG0003E",
    "The request body is not acceptable: {detail}.",
    "An HTTP API call carried a body that is not the JSON object the endpoint expects, or "
    "is larger than the configured limit.",
    "Send a JSON object with the documented fields; see docs for the endpoint.",
)

# --- RG1xxx: finding and parsing the token -------------------------------------------
define(
    "RG1001E",
    "No token found in the request: {detail}.",
    "The request carries no JSON Web Token where the candidate definitions look for one "
    "(the Authorization header with the Bearer scheme, or the definition's custom header).",
    "Send the token as 'Authorization: Bearer <token>' or in the header the definition names.",
)
define(
    "RG1002E",
    "The token is {size} bytes, over the limit of {limit} bytes.",
    "Tokens larger than the configured limit are refused before any parsing, to bound the "
    "work an attacker can cause.",
    "Issue a smaller token (fewer claims), or raise [limits] max_token_bytes if such tokens "
    "are legitimate.",
)
define(
    "RG1003E",
    "The token is a JWE (5 segments); this definition accepts only signed tokens "
    "(JWS, 3 segments).",
    "Encrypted tokens (JWE) are not accepted: realmgate verifies signed JWTs in compact "
    "serialization.",
    "Configure the issuer to send a signed (JWS) token.",
)
define(
    "RG1004E",
    "The token is not a compact JWS: it has {parts} dot-separated segments, expected 3.",
    "A compact JWS is header.payload.signature, each base64url-encoded.",
    "Check that the whole token was sent, with nothing appended, and no line breaks.",
)
define(
    "RG1005E",
    "The token's {segment} segment is not strict base64url: {detail}.",
    "RFC 7515 requires unpadded base64url (A-Z a-z 0-9 - _) with canonical trailing bits. "
    "Padding, '+', '/', whitespace or a non-canonical final character is refused so that "
    "one token has exactly one encoding.",
    "Have the issuer encode with unpadded base64url; check the token was not altered in "
    "transit (copy and paste often adds characters).",
)
define(
    "RG1006E",
    "The token's {segment} is not acceptable JSON: {detail}.",
    "The decoded header or payload must be UTF-8 JSON without duplicate member names and "
    "without excessive nesting.",
    "Have the issuer produce a well-formed JSON object.",
)
define(
    "RG1007E",
    "The token's {segment} is JSON {found}, not an object.",
    "The JOSE header and the JWT claims set must each be a JSON object.",
    "Have the issuer put the claims in a JSON object.",
)
define(
    "RG1008E",
    "The token's header has no usable 'alg': {detail}.",
    "Every JWS header must name its signature algorithm as a string.",
    "Have the issuer set the 'alg' header parameter.",
)
define(
    "RG1009E",
    "The token's algorithm '{alg}' means 'unsigned'; unsigned tokens are never accepted.",
    "Tokens with alg 'none' (in any letter case) carry no signature and could be forged by "
    "anyone. realmgate refuses them whatever the configuration says.",
    "Have the issuer sign the token with one of the definition's algorithms.",
)
define(
    "RG1010E",
    "The token's header marks {names} as critical, and realmgate does not understand them.",
    "RFC 7515 section 4.1.11: a recipient must refuse a JWS whose 'crit' header lists "
    "extensions it does not implement (including 'b64' unencoded payloads).",
    "Have the issuer drop the critical extension, or use a verifier that implements it.",
)
define(
    "RG1011E",
    "The token's header parameter '{name}' is not acceptable: {detail}.",
    "A header parameter has the wrong type or is too long (for example a 'kid' of 10 KB, "
    "or a 'b64' parameter asking for an unencoded payload).",
    "Have the issuer send a standard header: short string 'kid', no 'b64'.",
)
define(
    "RG1012E",
    "The token is a nested JWT (cty '{cty}'); nested tokens are not accepted.",
    "A JWS whose content type says the payload is itself a JWT would need a second "
    "verification; realmgate accepts only a claims set as payload.",
    "Send the inner token directly.",
)
define(
    "RG1013E",
    "The {header} header does not carry a bearer token: {detail}.",
    "The Authorization header must be 'Bearer <token>' (RFC 6750) and a custom header must "
    "hold only the token (a leading 'Bearer ' is allowed).",
    "Send 'Authorization: Bearer <token>'.",
)

# --- RG2xxx: choosing the definition -------------------------------------------------
define(
    "RG2001E",
    "No trusted-client definition trusts issuer {iss!r}; definitions considered: {considered}.",
    "Each definition lists the issuers it trusts, compared exactly (case and spaces "
    "matter). No definition lists this token's 'iss' claim. Liberty reports this case only "
    "as 'SEND_401'.",
    "Add the issuer to the 'issuers' of the definition that should handle it, or correct "
    "the issuer the client puts in the token. Run 'realmgate explain' to see each "
    "definition.",
)
define(
    "RG2002E",
    "The token has no 'iss' claim and no default issuer was given.",
    "The issuer selects the definition; without it realmgate cannot tell which keys to trust.",
    "Have the client set 'iss', or pass a default issuer (verify_jwt(default_issuer=...)).",
)
define(
    "RG2003E",
    "Definitions {clients} trust issuer {iss!r}, but their request filters refuse "
    "this request: {reasons}.",
    "A definition handles a request only if its auth_filter accepts it (remote address, "
    "URL, host, headers, cookies). The definitions for this issuer all refused.",
    "Check the request's address, URL and headers against the filter shown, or widen the filter.",
)
define(
    "RG2004E",
    "No trusted-client definition accepts this request: {reasons}.",
    "Every definition's request filter refused the request, so no token location or issuer "
    "could be chosen.",
    "Check the request's address, URL and headers against the filters shown.",
)
define(
    "RG2005E",
    "Definition {client} is not usable: {detail}.",
    "The definition could not be prepared (for example its key source failed to load); it "
    "is skipped and this message names why.",
    "Fix the definition's key source; 'realmgate check' shows the details.",
)

# --- RG3xxx: keys and signature ------------------------------------------------------
define(
    "RG3001E",
    "Definition {client} does not allow algorithm {alg}; allowed: {allowed}.",
    "Each definition has an explicit allow-list of algorithms and the token's 'alg' header "
    "must be in it. This blocks algorithm-substitution attacks.",
    "Add the algorithm to 'algorithms' if the issuer really uses it, or have the issuer "
    "sign with an allowed algorithm.",
)
define(
    "RG3002E",
    "Definition {client} has no key with kid {kid!r} for {alg} in {source}; keys "
    "available: {available}.",
    "The token names a key id that the trust store or JWKS of this definition does not "
    "hold (or holds only for other algorithms).",
    "Add the issuer's certificate or public key to the trust store (or set trust_alias), "
    "or check that the issuer signs with the key you expect.",
)
define(
    "RG3003E",
    "Key {kid!r} of definition {client} is a {kty} key and cannot verify {alg}.",
    "Keys are bound to their algorithm family: an RSA key verifies RS*/PS*, an EC key only "
    "the ES algorithm of its curve, an Ed25519 key EdDSA, a shared secret HS*. A mismatch "
    "is an attack or a misconfiguration.",
    "Use the key that matches the algorithm, or change the issuer's algorithm.",
)
define(
    "RG3004E",
    "Signature verification failed for definition {client} using {alg} with key "
    "{kid!r} from {source}{tried}.",
    "The signature does not match the token's header and payload under this key: the token "
    "was altered, or it was signed by a different private key than the one trusted here.",
    "Compare the key fingerprint ('realmgate keys show') with the issuer's signing key; "
    "re-export the issuer's certificate into the trust store.",
)
define(
    "RG3005E",
    "Definition {client} uses {alg} but its shared secret variable {env} is not set or empty.",
    "HS* algorithms need a shared secret, read from the environment variable named by "
    "shared_secret_env when the configuration is loaded.",
    "Export the variable with the shared secret before starting realmgate.",
)
define(
    "RG3006E",
    "Key {kid!r} is a {bits}-bit RSA key; at least 2048 bits are required.",
    "RSA keys shorter than 2048 bits are refused (NIST SP 800-131A).",
    "Have the issuer use a 2048-bit or larger RSA key.",
)
define(
    "RG3007E",
    "Definition {client} has no key source for {alg}: {detail}.",
    "The definition has no trust store, JWKS, discovery or shared secret that can provide a "
    "key for this algorithm.",
    "Give the definition a key source suited to its algorithms.",
)

# --- RG4xxx: claims ------------------------------------------------------------------
define(
    "RG4001E",
    "The token expired at {exp_iso} (exp {exp}); now is {now_iso}, clock skew "
    "{skew}s, so it was refused {late}s after expiry.",
    "A token is accepted until exp + clock_skew. Liberty reports this as CWWKS1773E 'outside "
    "of its valid range'.",
    "Issue a new token. If tokens expire too early, compare the clocks of the issuer and "
    "this server (the times are shown), or raise clock_skew.",
)
define(
    "RG4002E",
    "The token has no 'exp' claim; definition {client} requires one.",
    "Tokens without an expiry would be valid for ever and are refused.",
    "Have the issuer set 'exp' (realmgate token create sets it from --ttl).",
)
define(
    "RG4003E",
    "The token is not valid before {nbf_iso} (nbf {nbf}); now is {now_iso}, clock skew {skew}s.",
    "The 'nbf' claim says when the token starts to be valid.",
    "Wait until the token is valid, or check the issuer's clock against this server's.",
)
define(
    "RG4004E",
    "The token was issued in the future: iat {iat_iso} ({iat}) is after now "
    "{now_iso} plus clock skew {skew}s.",
    "An issue time ahead of this server's clock by more than the allowed skew means the "
    "clocks disagree or the token was forged.",
    "Synchronise the clocks (NTP) of the issuer and this server, or raise clock_skew.",
)
define(
    "RG4005E",
    "The token is {age}s old (iat {iat_iso}); definition {client} accepts at most "
    "max_age {max_age}s.",
    "max_age caps the time since issue, whatever 'exp' says.",
    "Issue a fresh token, or raise max_age.",
)
define(
    "RG4006E",
    "The token's issue time iat {iat_iso} is after its expiry exp {exp_iso}.",
    "Such a token can never be valid.",
    "Fix how the issuer computes iat and exp.",
)
define(
    "RG4007E",
    "The token's claim {claim!r} has the wrong type or value: {detail}.",
    "Time claims must be JSON numbers (seconds since the epoch, finite, not negative, not "
    "booleans); 'aud' must be a string or a list of strings; 'iss', 'sub' and 'jti' strings.",
    "Have the issuer produce standard claim types (RFC 7519 section 4.1).",
)
define(
    "RG4008E",
    "Issuer {iss!r} is not trusted by definition {client}; expected one of {expected}{hint}.",
    "The token's 'iss' must equal one of the definition's issuers exactly.",
    "Correct the issuer in the token or add it to the definition's issuers.",
)
define(
    "RG4009E",
    "Audience {aud} is not accepted by definition {client}; expected one of {expected}.",
    "The token's 'aud' must contain at least one of the definition's audiences.",
    "Have the issuer set the right 'aud', or add it to 'audiences' (or set audiences = "
    '"any" to skip the check deliberately).',
)
define(
    "RG4010E",
    "The token has no 'aud' claim, but definition {client} requires one of {expected}.",
    "The definition lists audiences, so tokens must name one.",
    "Have the issuer set 'aud', or set audiences = \"any\".",
)
define(
    "RG4011E",
    "The token lacks the claim(s) {claims} that definition {client} requires.",
    "required_claims lists claims that must be present.",
    "Have the issuer include the claims, or remove them from required_claims.",
)
define(
    "RG4012E",
    "Token replay: jti {jti!r} from issuer {iss!r} was already used; definition "
    "{client} has token_reuse = false.",
    "Each token may be used once when token_reuse is false (Liberty CWWKS1743E).",
    "Issue a new token with a fresh 'jti' for each request.",
)
define(
    "RG4013E",
    "The token has no 'jti' claim; definition {client} has token_reuse = false and "
    "needs one to detect replay.",
    "Replay protection keys on (iss, jti). A token without 'jti' cannot be protected, so it "
    "is refused rather than silently accepted.",
    "Have the issuer set a unique 'jti' (realmgate token create --jti).",
)
define(
    "RG4014E",
    "The token's user claim {claim!r} is missing or not a non-empty string (definition {client}).",
    "The user claim (user_claim, default 'sub') names the subject to map to a local user.",
    "Have the issuer set the claim, or change user_claim.",
)

# --- RG5xxx: identity mapping --------------------------------------------------------
define(
    "RG5001E",
    "Distributed identity is not defined: user {user!r} realm {realm!r} has no "
    "mapping to a local user (filters tried: {tried}).",
    "The identity registry has no filter matching this (user, realm) pair, like RACF's "
    "ICH408I 'DISTRIBUTED IDENTITY IS NOT DEFINED'. The realm came from {realm_source}.",
    "Add a mapping: realmgate map add --user USER --realm REALM --local-user LOCAL. Check "
    "that the realm is the one you expect (see the trace).",
)
define(
    "RG5002E",
    "The identity registry is unavailable: {detail}.",
    "The registry store could not be opened or read; no identity can be mapped.",
    "Check the registry path and permissions, and the disk.",
)
define(
    "RG5003E",
    "Mapping rule not acceptable: {detail}.",
    "A mapping needs a user filter, a realm filter and a local user; the filters are exact "
    "values, distinguished names or '*'.",
    "Correct the rule; see 'realmgate map add --help'.",
)
define(
    "RG5004E",
    "No mapping rule for user filter {user!r} and realm filter {realm!r}.",
    "The rule to remove or test does not exist in the registry.",
    "List the rules with 'realmgate map list'.",
)
define(
    "RG5005E",
    "A mapping rule for user filter {user!r} and realm filter {realm!r} already "
    "exists (to {local_user!r}).",
    "Like RACMAP, a filter is defined once; remove it before adding it again.",
    "Remove the rule first (realmgate map remove), then add the new one.",
)
