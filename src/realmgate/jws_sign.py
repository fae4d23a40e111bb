"""Issuing compact JWS: the JSON header and payload, signed with a :class:`SigningKey`.

The inverse of :func:`realmgate.jws.parse_compact`, for the token builder, the CLI and the
tests. Signatures use the same RFC 7518 parameters as verification
(:mod:`realmgate.signature`): PSS salt as long as the hash, ECDSA as fixed-size R || S.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from realmgate.b64url import b64url_encode
from realmgate.errors import UsageError
from realmgate.keys.material import KeyMaterialError
from realmgate.signature import SHA_BY_BITS, pss_padding

if TYPE_CHECKING:
    from realmgate.keys.signing import SigningKey

__all__ = ["sign_compact"]


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
    algorithm = SHA_BY_BITS[int(bits)]
    if family == "HS":
        return hmac.digest(private, message, f"sha{bits}")
    if family == "RS":
        return bytes(private.sign(message, padding.PKCS1v15(), algorithm))
    if family == "PS":
        return bytes(private.sign(message, pss_padding(algorithm), algorithm))
    if family == "ES":
        size = (private.curve.key_size + 7) // 8
        r, s = decode_dss_signature(private.sign(message, ec.ECDSA(algorithm)))
        return r.to_bytes(size, "big") + s.to_bytes(size, "big")
    raise KeyMaterialError(f"algorithm {alg} is not supported")
