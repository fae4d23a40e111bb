"""Compact JWS (RFC 7515): strict parsing, signature verification, signing.

The hot path is ``parse_compact`` + a prepared verify callable (:func:`prepare_verifier`).
It does one ``split``, SIMD base64url (``b64url.decode_segment``) and ``orjson``, and the
verify callable of a (key, algorithm) pair is built once with its family and size checks
done, so a verification is one C call. Decoded headers are cached by their exact base64url
text (tokens of one issuer repeat them), so the header's JSON and its checks run once per
distinct header, not once per token. Measured on the 2-core benchmark machine (2026-11-23,
882-byte RS256 token, best of 200 runs): ``parse_compact`` 4.2-4.7 µs, against 6.8 µs
before these changes (translate + ``a2b_base64``, bytes needles) in the same minute.

What is refused, and why (each with its catalogue id):

* more than ``max_bytes`` (RG1002E), JWE (RG1003E), not three segments (RG1004E);
* non-canonical base64url anywhere, or an empty signature (RG1005E);
* header or payload not a strict JSON object (RG1006E, RG1007E);
* ``alg`` missing, not a string (RG1008E), or ``none`` in any letter case (RG1009E);
* ``crit`` in any form: no extension is implemented (RG1010E);
* ``b64``, a ``kid`` that is not a short printable string, an ``x5t`` or ``cty`` that is not
  a string (RG1011E); nested JWTs, ``cty`` "JWT" (RG1012E).

``jku``, ``x5u``, ``jwk`` and ``x5c`` are kept in ``header`` but never used to find a key:
only keys the configuration trusts are used.

ECDSA (RFC 7518 section 3.4) takes the fixed-size R || S form only, with 1 <= r, s < n;
DER signatures are refused. High-S signatures are accepted: ECDSA as JWS specifies it has no
low-S rule, and a token cache or replay store keys on the whole token, not the signature.
"""

from __future__ import annotations

import functools
import hmac
import json
import unicodedata
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from realmgate.b64url import (
    CANONICAL_LAST,
    PADDING,
    B64Error,
    b64url_decode_ascii,
    b64url_encode,
    decode_segment,
    describe_b64_error,
)
from realmgate.b64url import _simd_decode as _simd
from realmgate.errors import InvalidToken, UsageError
from realmgate.jsonparse import loads_object
from realmgate.keys.material import KeyMaterialError, VerificationKey

if TYPE_CHECKING:
    from realmgate.keys.signing import SigningKey

__all__ = [
    "MIN_RSA_BITS",
    "ParsedJWS",
    "header_cache_clear",
    "key_can_verify",
    "parse_compact",
    "prepare_verifier",
    "sign_compact",
    "verify_signature",
]

MIN_RSA_BITS = 2048
MAX_KID_CHARS = 256
MAX_ALG_CHARS = 32
_HEADER_CACHE_SIZE = 256


class ParsedJWS(NamedTuple):
    """An immutable parsed token (a named tuple: built in C on the hot path)."""

    header: Mapping[str, Any]
    """The decoded protected header (read-only; shared between tokens with the same one)."""
    claims: dict[str, Any]
    """The payload as a JSON object; empty when parsed with ``payload_json=False``."""
    signing_input: bytes
    signature: bytes
    alg: str
    kid: str | None
    x5t: str | None
    header_b64: str
    payload: bytes = b""
    """The decoded payload bytes."""
    raw: bytes = b""
    """The whole token as ASCII bytes (for its log hash, without encoding it again)."""
    ignored: tuple[str, ...] = ()
    """Key-locating header parameters present (``jku``, ``x5u``, ``jwk``, ``x5c``): kept
    in ``header`` but never used to find a key."""


IGNORED_HEADERS = ("jku", "x5u", "jwk", "x5c")

_Header = tuple[Mapping[str, Any], str, str | None, str | None, str, tuple[str, ...]]
_header_cache: dict[bytes, _Header] = {}
header_cache = _header_cache
"""Read by the fast lane (realmgate.lane), which only ever looks segments up: a header
segment enters the cache through :func:`parse_compact` and its checks, never otherwise."""
_new_tuple = tuple.__new__


def parse_compact(token: str, max_bytes: int = 16384, *, payload_json: bool = True) -> ParsedJWS:
    """Split and decode a compact JWS, refusing anything not strictly well-formed.

    ``payload_json=False`` skips the JWT rule that the payload is a JSON object (for plain
    JWS test vectors); the verifier always uses the default.
    """
    if len(token) > max_bytes:
        raise InvalidToken("RG1002E", size=len(token), limit=max_bytes)
    try:
        raw = token.encode("ascii")
    except (UnicodeEncodeError, AttributeError):
        raise _not_ascii(token) from None
    parts = raw.split(b".")
    if len(parts) != 3:
        if len(parts) == 5:
            raise InvalidToken("RG1003E")
        raise InvalidToken("RG1004E", parts=len(parts))
    header_part, payload_part, signature_part = parts
    cached = _header_cache.get(header_part)
    if cached is None:
        cached = _parse_header(header_part)
        if len(_header_cache) >= _HEADER_CACHE_SIZE:
            # Start over rather than track age: an attacker cycling headers costs only cache
            # misses, never memory, and clear() is atomic for concurrent callers.
            _header_cache.clear()
        _header_cache[header_part] = cached
    header, alg, kid, x5t, header_b64, ignored = cached
    try:
        if _simd is None:
            payload = decode_segment(payload_part)
        else:  # decode_segment's SIMD form, inlined: it runs twice per token
            tail = len(payload_part) & 3
            if (
                payload_part[-1] not in CANONICAL_LAST[tail]
                or 43 in payload_part  # "+"
                or 47 in payload_part  # "/"
                or 61 in payload_part  # "="
            ):
                raise ValueError
            payload = _simd(payload_part + PADDING[tail], b"-_", True)
    except IndexError:
        payload = b""  # RFC 7515 allows an empty payload; a JWT's claims then refuse it
    except ValueError:
        raise _b64_refusal("payload", payload_part) from None
    claims = loads_object(payload, "payload") if payload_json else {}
    try:
        if _simd is None:
            signature = decode_segment(signature_part)
        else:
            tail = len(signature_part) & 3
            if (
                signature_part[-1] not in CANONICAL_LAST[tail]
                or 43 in signature_part
                or 47 in signature_part
                or 61 in signature_part
            ):
                raise ValueError
            signature = _simd(signature_part + PADDING[tail], b"-_", True)
    except (ValueError, IndexError):
        raise _b64_refusal("signature", signature_part) from None
    return _new_tuple(
        ParsedJWS,
        (
            header,
            claims,
            raw[: len(header_part) + len(payload_part) + 1],
            signature,
            alg,
            kid,
            x5t,
            header_b64,
            payload,
            raw,
            ignored,
        ),
    )


def _b64_refusal(segment: str, part: bytes) -> InvalidToken:
    detail = describe_b64_error(part.decode("ascii")) if part else f"empty {segment}"
    return InvalidToken("RG1005E", segment=segment, detail=detail)


def _not_ascii(token: Any) -> InvalidToken:
    if not isinstance(token, str):
        return InvalidToken("RG1004E", parts=0)
    position = next(i for i, c in enumerate(token) if ord(c) > 127)
    segment = ("header", "payload", "signature", "signature", "signature")[
        min(token.count(".", 0, position), 4)
    ]
    return InvalidToken(
        "RG1005E",
        segment=segment,
        detail=f"non-ASCII character U+{ord(token[position]):04X} at position {position}",
    )


def _parse_header(part: bytes) -> _Header:
    try:
        raw = b64url_decode_ascii(part)
    except B64Error as exc:
        raise InvalidToken("RG1005E", segment="header", detail=str(exc)) from None
    header = loads_object(raw, "header")
    if "alg" not in header:
        raise InvalidToken("RG1008E", detail="the header has no 'alg'")
    alg = header["alg"]
    if not isinstance(alg, str):
        raise InvalidToken("RG1008E", detail=f"'alg' is a {_json_type(alg)}, not a string")
    if not (0 < len(alg) <= MAX_ALG_CHARS and alg.isascii() and alg.isprintable()):
        # Algorithm names are short ASCII; anything else only serves to pollute messages.
        raise InvalidToken("RG1008E", detail="'alg' is not an algorithm name")
    if alg.lower() == "none":
        raise InvalidToken("RG1009E", alg=alg)
    if "crit" in header:
        crit = header["crit"]
        if isinstance(crit, list) and crit and all(isinstance(n, str) for n in crit):
            names = ", ".join(repr(n[:40]) for n in crit)
        else:
            names = "a malformed 'crit' value (RFC 7515 requires a non-empty array of names)"
        raise InvalidToken("RG1010E", names=names)
    if "b64" in header:
        raise InvalidToken(
            "RG1011E", name="b64", detail="unencoded payloads (RFC 7797) are not supported"
        )
    kid = header.get("kid")
    if kid is not None or "kid" in header:
        _check_kid(kid)
    x5t = header.get("x5t")
    if x5t is not None or "x5t" in header:
        if not isinstance(x5t, str):
            raise InvalidToken("RG1011E", name="x5t", detail=f"a {_json_type(x5t)}, not a string")
        if len(x5t) > MAX_KID_CHARS or not (x5t.isascii() and x5t.isprintable()):
            raise InvalidToken(
                "RG1011E",
                name="x5t",
                detail="not a certificate thumbprint (too long, or not printable ASCII)",
            )
    if "cty" in header:
        cty = header["cty"]
        if not isinstance(cty, str):
            raise InvalidToken("RG1011E", name="cty", detail=f"a {_json_type(cty)}, not a string")
        if cty.upper() == "JWT":
            raise InvalidToken("RG1012E", cty=cty)
    ignored = tuple(name for name in IGNORED_HEADERS if name in header)
    return MappingProxyType(header), alg, kid, x5t, part.decode("ascii"), ignored


def _check_kid(kid: Any) -> None:
    if not isinstance(kid, str):
        raise InvalidToken("RG1011E", name="kid", detail=f"a {_json_type(kid)}, not a string")
    if len(kid) > MAX_KID_CHARS:
        raise InvalidToken(
            "RG1011E", name="kid", detail=f"{len(kid)} characters, over {MAX_KID_CHARS}"
        )
    for char in kid:
        # Control and invisible format characters (C0/C1, bidi overrides) in a kid serve
        # only to forge log lines or hide what a message shows.
        if unicodedata.category(char) in ("Cc", "Cf", "Cs"):
            raise InvalidToken(
                "RG1011E", name="kid", detail=f"contains the control character U+{ord(char):04X}"
            )


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    return "string" if isinstance(value, str) else type(value).__name__


# --- verification -------------------------------------------------------------------------

_Verify = Callable[[VerificationKey, bytes, bytes], bool]


def _rsa_verifier(pad: padding.AsymmetricPadding, algorithm: hashes.HashAlgorithm) -> _Verify:
    def verify(key: VerificationKey, message: bytes, signature: bytes) -> bool:
        if key.kty != "RSA":
            raise _family_error(key)
        if key.bits is None or key.bits < MIN_RSA_BITS:
            raise InvalidToken("RG3006E", kid=key.label(), bits=key.bits)
        try:
            key.key.verify(signature, message, pad, algorithm)
        except InvalidSignature:
            return False
        return True

    return verify


def _pss(algorithm: hashes.HashAlgorithm) -> padding.PSS:
    # RFC 7518 section 3.5: MGF1 with the same hash, salt as long as the hash output.
    return padding.PSS(mgf=padding.MGF1(algorithm), salt_length=algorithm.digest_size)


def _ecdsa_verifier(algorithm: hashes.HashAlgorithm, curve: ec.EllipticCurve) -> _Verify:
    size = (curve.key_size + 7) // 8
    order = _CURVE_ORDERS[curve.name]
    scheme = ec.ECDSA(algorithm)

    def verify(key: VerificationKey, message: bytes, signature: bytes) -> bool:
        if key.kty != "EC":
            raise _family_error(key)
        if len(signature) != 2 * size:
            return False
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        if not (0 < r < order and 0 < s < order):
            return False
        try:
            key.key.verify(encode_dss_signature(r, s), message, scheme)
        except InvalidSignature:
            return False
        return True

    return verify


def _eddsa_verify(key: VerificationKey, message: bytes, signature: bytes) -> bool:
    if key.kty != "OKP":
        raise _family_error(key)
    if len(signature) != 64:
        return False
    try:
        key.key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def _hmac_verifier(digest: str) -> _Verify:
    def verify(key: VerificationKey, message: bytes, signature: bytes) -> bool:
        secret = key.key
        if key.kty != "oct" or type(secret) is not bytes:
            raise _family_error(key)
        return hmac.compare_digest(hmac.digest(secret, message, digest), signature)

    return verify


def _family_error(key: VerificationKey) -> InvalidToken:
    algs = ", ".join(sorted(key.algorithms))
    return InvalidToken("RG3003E", kid=key.label(), kty=key.kty, alg=algs)


_CURVE_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF"
        "581A0DB248B0A77AECEC196ACCC52973",
        16,
    ),
    "secp521r1": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA"
        "51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        16,
    ),
}
_SHA = {256: hashes.SHA256(), 384: hashes.SHA384(), 512: hashes.SHA512()}
_VERIFIERS: dict[str, _Verify] = {
    **{f"RS{n}": _rsa_verifier(padding.PKCS1v15(), h) for n, h in _SHA.items()},
    **{f"PS{n}": _rsa_verifier(_pss(h), h) for n, h in _SHA.items()},
    "ES256": _ecdsa_verifier(_SHA[256], ec.SECP256R1()),
    "ES384": _ecdsa_verifier(_SHA[384], ec.SECP384R1()),
    "ES512": _ecdsa_verifier(_SHA[512], ec.SECP521R1()),
    "EdDSA": _eddsa_verify,
    **{f"HS{n}": _hmac_verifier(f"sha{n}") for n in _SHA},
}


def key_can_verify(key: VerificationKey, alg: str) -> bool:
    """Whether ``key`` is bound to ``alg`` (and realmgate implements ``alg``)."""
    return alg in key.algorithms and alg in _VERIFIERS


def verify_signature(parsed: ParsedJWS, key: VerificationKey) -> bool:
    """True if the signature verifies under ``key``; False if it does not. Raises
    ``InvalidToken`` RG3003E if the key is not bound to the token's algorithm, RG3006E for an
    RSA key under 2048 bits."""
    alg = parsed.alg
    verify = _VERIFIERS.get(alg)
    if verify is None or alg not in key.algorithms:
        raise InvalidToken("RG3003E", kid=key.label(), kty=key.kty, alg=alg)
    return verify(key, parsed.signing_input, parsed.signature)


Prepared = Callable[[bytes, bytes], bool]
"""A verify callable bound to one key and algorithm: (signing input, signature) → bool."""


def prepare_verifier(key: VerificationKey, alg: str) -> Prepared:
    """The verify callable of ``key`` for ``alg``, with every per-key check (family, RSA
    size, binding to ``alg``) done once here instead of on each token: for RSA the result
    is one C call (with ``PreparedKeys``: 20.4 µs per RS256 token, RSA included, against
    21.8 µs for a key lookup + :func:`verify_signature`; benchmark machine, 2026-11-23).
    A key that fails a check gets a callable raising the same ``InvalidToken``
    :func:`verify_signature` would, so the refusal still happens where the token is
    verified."""
    verify = _VERIFIERS.get(alg)
    if verify is None or alg not in key.algorithms:
        error = InvalidToken("RG3003E", kid=key.label(), kty=key.kty, alg=alg)
    else:
        try:
            _check_family(key, alg)
        except InvalidToken as exc:
            error = exc
        else:
            return _prepared(alg, key) or functools.partial(verify, key)

    def refuse(message: bytes, signature: bytes) -> bool:
        raise error

    return refuse


def _check_family(key: VerificationKey, alg: str) -> None:
    """The checks the verify callables of ``_VERIFIERS`` make before verifying."""
    family = "EdDSA" if alg == "EdDSA" else alg[:2]
    kty = {"RS": "RSA", "PS": "RSA", "ES": "EC", "EdDSA": "OKP", "HS": "oct"}[family]
    if key.kty != kty or (kty == "oct" and type(key.key) is not bytes):
        raise _family_error(key)
    if kty == "RSA" and (key.bits is None or key.bits < MIN_RSA_BITS):
        raise InvalidToken("RG3006E", kid=key.label(), bits=key.bits)


def _prepared(alg: str, key: VerificationKey) -> Prepared | None:
    """A direct C call for the RSA, EdDSA and HMAC families; None for ECDSA, which converts
    R || S to DER first and keeps its generic callable."""
    family = alg[:2]
    if family in ("RS", "PS"):
        native = key.key.verify
        pad = padding.PKCS1v15() if family == "RS" else _pss(_SHA[int(alg[2:])])
        algorithm = _SHA[int(alg[2:])]

        def rsa(message: bytes, signature: bytes) -> bool:
            try:
                native(signature, message, pad, algorithm)
            except InvalidSignature:
                return False
            return True

        return rsa
    if alg == "EdDSA":
        eddsa = key.key.verify

        def ed(message: bytes, signature: bytes) -> bool:
            if len(signature) != 64:
                return False
            try:
                eddsa(signature, message)
            except InvalidSignature:
                return False
            return True

        return ed
    if family == "HS":
        # The keyed context is made once per key: each token copies it (the key's inner and
        # outer pads already hashed) instead of keying a new one. 0.79 µs against 1.86 µs
        # for hmac.digest on a 560-byte token (benchmark machine, 2026-12-02).
        copy = crypto_hmac.HMAC(key.key, _SHA[int(alg[2:])]).copy

        def hs(message: bytes, signature: bytes) -> bool:
            mac = copy()
            mac.update(message)
            # hmac.compare_digest read at call time: tests observe it being used.
            return hmac.compare_digest(mac.finalize(), signature)

        return hs
    return None


def _verify_raw(alg: str, key: VerificationKey, message: bytes, signature: bytes) -> bool:
    """:func:`verify_signature` on a bare message (for the primitive test vectors, whose
    messages cannot be wrapped as tokens): the same checks and the same verify callables."""
    verify = _VERIFIERS.get(alg)
    if verify is None or alg not in key.algorithms:
        raise InvalidToken("RG3003E", kid=key.label(), kty=key.kty, alg=alg)
    return verify(key, message, signature)


# --- signing ------------------------------------------------------------------------------


def sign_compact(
    claims: Mapping[str, Any],
    key: SigningKey,
    alg: str,
    *,
    kid: str | None = None,
    extra_header: Mapping[str, Any] | None = None,
) -> str:
    """A compact JWS of ``claims``: header ``{"alg", "typ": "JWT", "kid"}`` plus
    ``extra_header`` (which may not replace ``alg`` or add ``crit``/``b64``)."""
    if alg not in key.algorithms:
        raise KeyMaterialError(
            f"a {key.kty} key cannot sign {alg}; it can sign {', '.join(sorted(key.algorithms))}"
        )
    header: dict[str, Any] = {"alg": alg, "typ": "JWT"}
    if kid is not None:
        header["kid"] = kid
    for name, value in (extra_header or {}).items():
        if name in ("alg", "crit", "b64"):
            raise UsageError("RG0001E", detail=f"header parameter {name!r} cannot be set")
        header[name] = value
    signing_input = f"{b64url_encode(_json(header))}.{b64url_encode(_json(claims))}"
    signature = _sign(alg, key.key, signing_input.encode("ascii"))
    return f"{signing_input}.{b64url_encode(signature)}"


def _json(value: Mapping[str, Any]) -> bytes:
    try:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise UsageError("RG0001E", detail=f"the token content is not JSON: {exc}") from None
    return text.encode("utf-8")


def _sign(alg: str, private: Any, message: bytes) -> bytes:
    family, bits = alg[:2], alg[2:]
    if alg == "EdDSA":
        return bytes(private.sign(message))
    algorithm = _SHA[int(bits)]
    if family == "HS":
        return hmac.digest(private, message, f"sha{bits}")
    if family == "RS":
        return bytes(private.sign(message, padding.PKCS1v15(), algorithm))
    if family == "PS":
        return bytes(private.sign(message, _pss(algorithm), algorithm))
    if family == "ES":
        size = (private.curve.key_size + 7) // 8
        r, s = decode_dss_signature(private.sign(message, ec.ECDSA(algorithm)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise KeyMaterialError(f"algorithm {alg} is not supported")


def header_cache_clear() -> None:
    """Empty the decoded-header cache (tests, and after a configuration change)."""
    _header_cache.clear()
