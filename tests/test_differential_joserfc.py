"""Differential test of realmgate's hand-written compact-JWS path against joserfc (issue 5).

realmgate verifies with its own ``parse_compact`` + signature code on ``cryptography``
(faster than any library it could call). This test checks it against joserfc with the same
keys on thousands of mutated tokens: bit flips, inserted and deleted characters,
non-canonical base64url, re-signed headers and payloads with unusual JSON, and malleated
or re-encoded signatures. The verdict compared is "the JWS path accepts the token as a JWT"
(signature valid with the one allowed algorithm, payload a JSON object); no claim checks.

Every disagreement must be a documented stricter choice of realmgate (the list of refusals
in the ``realmgate.jws`` docstring, each with its message id); a token realmgate accepts
and joserfc refuses fails the test. The agreement rate is printed (``pytest -s``) and kept
in ``benchmarks/results-2026-11-23.md``.
"""

from __future__ import annotations

import base64
import json
import random
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from realmgate import b64url
from realmgate.errors import InvalidToken
from realmgate.jws import parse_compact
from realmgate.keys.jwk import key_from_public_key, secret_key
from realmgate.keys.material import VerificationKey
from realmgate.signature import verify_signature

joserfc = pytest.importorskip("joserfc")
from joserfc import jwt as jose_jwt  # noqa: E402
from joserfc.errors import JoseError  # noqa: E402
from joserfc.jwk import ECKey, OctKey, OKPKey, RSAKey  # noqa: E402

P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
SECRET = b"a shared secret of at least thirty-two bytes!!"
CLAIMS = {"iss": "https://issuer.example", "sub": "alice", "aud": "api", "exp": 2000000000}
STRICTER = {
    "RG1005E": "non-canonical base64url (padding, foreign characters, non-zero unused bits)",
    "RG1006E": "strict JSON: duplicate names, NaN/Infinity, lone surrogates, BOM, depth",
    "RG1008E": "alg must be a short printable ASCII name",
    "RG1010E": "crit: no extension is implemented, so any crit is refused",
    "RG1011E": "kid/x5t/cty must be strings; kid without control characters",
    "RG1012E": "nested JWTs (cty JWT) are refused",
}
"""realmgate refusals that joserfc may accept: each is documented in realmgate.jws."""


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Alg:
    def __init__(self, name: str, private: Any) -> None:
        self.name = name
        self.private = private
        if name == "HS256":
            self.rg: VerificationKey = secret_key(SECRET, "test", algorithms=frozenset({name}))
            self.jose: Any = OctKey.import_key(SECRET)
        else:
            public = private.public_key()
            self.rg = key_from_public_key(public, source="test", alg=name)
            pem = public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
            kind = {"RS256": RSAKey, "PS256": RSAKey, "ES256": ECKey, "EdDSA": OKPKey}[name]
            self.jose = kind.import_key(pem)

    def sign(self, message: bytes) -> bytes:
        key, sha = self.private, hashes.SHA256()
        if self.name == "HS256":
            import hmac

            return hmac.digest(SECRET, message, "sha256")
        if self.name == "RS256":
            return bytes(key.sign(message, padding.PKCS1v15(), sha))
        if self.name == "PS256":
            return bytes(key.sign(message, padding.PSS(padding.MGF1(sha), 32), sha))
        if self.name == "ES256":
            r, s = decode_dss_signature(key.sign(message, ec.ECDSA(sha)))
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return bytes(key.sign(message))

    def token(self, header: bytes, payload: bytes) -> str:
        signing_input = f"{b64(header)}.{b64(payload)}"
        return f"{signing_input}.{b64(self.sign(signing_input.encode()))}"


def realmgate_accepts(alg: Alg, token: str) -> tuple[bool, str | None]:
    try:
        parsed = parse_compact(token)
        return verify_signature(parsed, alg.rg), None
    except InvalidToken as exc:
        return False, exc.message_id


def joserfc_accepts(alg: Alg, token: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            decoded = jose_jwt.decode(token, alg.jose, algorithms=[alg.name])
        except (JoseError, ValueError, TypeError, KeyError, UnicodeError):
            return False
    return isinstance(decoded.claims, dict)


# --- mutations ---------------------------------------------------------------------------

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
NOISE = ALPHABET + "=+/ .\n\t*~"


def text_mutations(token: str, rng: random.Random, count: int) -> Iterator[str]:
    for _ in range(count):
        kind = rng.randrange(6)
        at = rng.randrange(len(token))
        if kind == 0:  # substitute
            yield token[:at] + rng.choice(ALPHABET) + token[at + 1 :]
        elif kind == 1:  # delete
            yield token[:at] + token[at + 1 :]
        elif kind == 2:  # insert
            yield token[:at] + rng.choice(NOISE) + token[at:]
        elif kind == 3:  # non-canonical last character of a segment (unused bits set)
            parts = token.split(".")
            i = rng.randrange(3)
            last = parts[i][-1]
            index = ALPHABET.index(last)
            parts[i] = parts[i][:-1] + ALPHABET[index ^ rng.choice((1, 2, 3))]
            yield ".".join(parts)
        elif kind == 4:  # padding
            parts = token.split(".")
            i = rng.randrange(3)
            parts[i] += "=" * rng.randrange(1, 3)
            yield ".".join(parts)
        else:  # segments
            parts = token.split(".")
            shapes = [".".join(parts[:2]), token + ".", token + ".AA", ".".join(parts[::-1])]
            yield rng.choice(shapes)


def structural(alg: Alg) -> Iterator[str]:
    """Re-signed tokens whose header or payload is unusual (the signature is valid)."""
    claims = json.dumps(CLAIMS).encode()
    header = {"alg": alg.name, "typ": "JWT"}
    headers: list[bytes] = [
        json.dumps(header).encode(),
        json.dumps(header, indent=2).encode(),
        json.dumps({**header, "kid": "k1", "jku": "https://evil.example/jwks"}).encode(),
        json.dumps({**header, "crit": ["exp"], "exp": 1}).encode(),
        json.dumps({**header, "cty": "JWT"}).encode(),
        json.dumps({**header, "kid": "a\u202eb"}).encode(),
        json.dumps({**header, "kid": 7}).encode(),
        json.dumps({**header, "b64": False}).encode(),
        b'{"alg":"%s","alg":"%s"}' % (alg.name.encode(), alg.name.encode()),
        b'{"alg":"none"}',
        b'{"alg":"%s","typ":"JWT","x":NaN}' % alg.name.encode(),
        b"\xef\xbb\xbf" + json.dumps(header).encode(),
        b'{"alg":"%s","typ":"\\ud800"}' % alg.name.encode(),
        b'{"alg":"%s","x":' % alg.name.encode() + b"[" * 40 + b"1" + b"]" * 40 + b"}",
    ]
    payloads: list[bytes] = [
        claims,
        json.dumps(CLAIMS, indent=1).encode(),
        b'{"sub":"alice","sub":"mallory","exp":2000000000}',
        b'{"sub":"alice","exp":Infinity}',
        b'{"sub":"\\ud800"}',
        b'["not", "an", "object"]',
        b'"just a string"',
        b"",
        b"{}",
        b'{"n":123456789012345678901234567890}',
        b'{"sub":"caf\xc3\xa9"}',
        b'{"sub":"caf\xe9"}',
        b'{"a":' * 40 + b"1" + b"}" * 40,
    ]
    for head in headers:
        yield alg.token(head, claims)
    for payload in payloads:
        yield alg.token(json.dumps(header).encode(), payload)


def signature_mutations(alg: Alg, token: str) -> Iterator[str]:
    head, payload, sig = token.split(".")
    raw = base64.urlsafe_b64decode(sig + "==")
    yield f"{head}.{payload}."
    yield f"{head}.{payload}.{b64(raw[:-1])}"
    extended = raw + bytes(1)
    yield f"{head}.{payload}.{b64(extended)}"
    yield f"{head}.{payload}.{b64(bytes(len(raw)))}"
    if alg.name == "ES256":
        r, s = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        high = r.to_bytes(32, "big") + (P256_ORDER - s).to_bytes(32, "big")
        yield f"{head}.{payload}.{b64(high)}"  # (r, n - s): valid ECDSA, malleable
        yield f"{head}.{payload}.{b64(encode_dss_signature(r, s))}"  # DER: not JWS
        yield f"{head}.{payload}.{b64(bytes(32) + raw[32:])}"  # r = 0


@pytest.fixture(scope="module")
def algs() -> list[Alg]:
    return [
        Alg("RS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        Alg("PS256", rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        Alg("ES256", ec.generate_private_key(ec.SECP256R1())),
        Alg("EdDSA", ed25519.Ed25519PrivateKey.generate()),
        Alg("HS256", None),
    ]


def corpus(alg: Alg, rng: random.Random) -> Iterator[str]:
    valid = [
        alg.token(
            b'{"alg":"%s","typ":"JWT"}' % alg.name.encode(),
            json.dumps({**CLAIMS, "jti": str(n), "pad": "x" * rng.randrange(40)}).encode(),
        )
        for n in range(8)
    ]
    for token in valid:
        yield token
        yield from text_mutations(token, rng, 60)
        yield from signature_mutations(alg, token)
    yield from structural(alg)


def test_realmgate_and_joserfc_agree_on_mutated_tokens(algs: list[Alg]) -> None:
    rng = random.Random(20261123)
    outcomes: Counter[str] = Counter()
    stricter: Counter[str] = Counter()
    problems: list[str] = []
    total = 0
    for alg in algs:
        for token in corpus(alg, rng):
            total += 1
            ours, message_id = realmgate_accepts(alg, token)
            theirs = joserfc_accepts(alg, token)
            if ours == theirs:
                outcomes["agree accepted" if ours else "agree refused"] += 1
            elif theirs:
                if message_id in STRICTER:
                    stricter[f"{message_id} ({STRICTER[message_id]})"] += 1
                    outcomes["realmgate stricter (documented)"] += 1
                else:
                    problems.append(f"{alg.name}: joserfc accepts, realmgate {message_id}: {token}")
            else:
                problems.append(f"{alg.name}: realmgate accepts, joserfc refuses: {token}")
    agreed = outcomes["agree accepted"] + outcomes["agree refused"]
    print(f"\n{total} tokens; agreement {agreed / total:.2%}: {dict(outcomes)}")
    for reason, count in stricter.most_common():
        print(f"  stricter {count:4d}  {reason}")
    assert not problems, "\n".join(problems[:20])
    assert outcomes["agree accepted"] >= 40  # the corpus really has valid tokens


def test_both_base64_decoders_accept_exactly_the_same_strings() -> None:
    """``b64url.decode_segment`` uses pybase64 when installed: its pre-checks must make it
    exactly as strict as the binascii form (one byte string, one encoding)."""
    if b64url._simd_decode is None:
        pytest.skip("pybase64 is not installed: only the binascii form is in use")
    rng = random.Random(5)
    alphabet = (ALPHABET + "=+/. *\0\x7f").encode()

    def outcome(decode: Callable[[bytes], bytes], text: bytes) -> bytes | str:
        try:
            return decode(text)
        except (ValueError, IndexError):
            return "refused"

    for _ in range(50_000):
        text = bytes(rng.choice(alphabet) for _ in range(rng.randrange(1, 14)))
        simd = outcome(b64url._decode_segment_simd, text)
        assert simd == outcome(b64url._decode_segment_binascii, text), text
        assert simd == outcome(b64url.b64url_decode_ascii, text), text
