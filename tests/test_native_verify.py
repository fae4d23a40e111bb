"""``_speedups.NativeVerify``: the prepared RSA, RSA-PSS and EdDSA check as a C callable
must answer exactly as the Python closure it replaces (signature._prepared): True when the
key's verify returns, False on InvalidSignature or a wrong EdDSA length, anything else
raised as it was."""

from __future__ import annotations

import os
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from realmgate.keys.material import VerificationKey
from realmgate.signature import prepare_verifier, pss_padding

try:
    from realmgate._speedups import NativeVerify
except ImportError:  # not built: skipped, or failed under CI=true
    NativeVerify = None  # type: ignore[assignment,misc]

pytestmark = pytest.mark.skipif(
    NativeVerify is None and os.environ.get("CI") != "true",
    reason="realmgate._speedups not built",
)

MESSAGE = b"eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9"


def _key(private: Any, algorithms: tuple[str, ...]) -> VerificationKey:
    kty = "OKP" if isinstance(private, ed25519.Ed25519PrivateKey) else "RSA"
    bits = private.key_size if kty == "RSA" else None
    return VerificationKey(
        kid="k1",
        kty=kty,
        algorithms=frozenset(algorithms),
        key=private.public_key(),
        source="test",
        fingerprint="test-fingerprint",
        bits=bits if kty == "RSA" else 256,
    )


def _signature(private: Any, alg: str) -> bytes:
    if alg == "RS256":
        return bytes(private.sign(MESSAGE, padding.PKCS1v15(), hashes.SHA256()))
    if alg == "PS256":
        return bytes(private.sign(MESSAGE, pss_padding(hashes.SHA256()), hashes.SHA256()))
    return bytes(private.sign(MESSAGE))


@pytest.mark.parametrize("alg", ["RS256", "PS256", "EdDSA"])
def test_prepared_check_is_native_and_answers_like_the_key(
    alg: str, rsa_key: rsa.RSAPrivateKey, ed_key: ed25519.Ed25519PrivateKey
) -> None:
    private = ed_key if alg == "EdDSA" else rsa_key
    verify = prepare_verifier(_key(private, (alg,)), alg)
    assert type(verify) is NativeVerify
    signature = _signature(private, alg)
    assert verify(MESSAGE, signature) is True
    assert verify(MESSAGE + b"x", signature) is False
    flipped = bytes([signature[0] ^ 1]) + signature[1:]
    assert verify(MESSAGE, flipped) is False
    assert verify(MESSAGE, signature[:-1]) is False  # short: RSA refuses, EdDSA's length rule
    assert verify(MESSAGE, b"") is False


def test_pkcs1_signature_does_not_pass_as_pss(rsa_key: rsa.RSAPrivateKey) -> None:
    key = _key(rsa_key, ("RS256", "PS256"))
    pkcs1 = _signature(rsa_key, "RS256")
    assert prepare_verifier(key, "RS256")(MESSAGE, pkcs1) is True
    assert prepare_verifier(key, "PS256")(MESSAGE, pkcs1) is False


def test_errors_other_than_invalid_signature_propagate() -> None:
    def broken(signature: bytes, message: bytes, *extra: Any) -> None:
        raise RuntimeError(f"broken {len(extra)}")

    verify = NativeVerify(broken, (1, 2), InvalidSignature)
    with pytest.raises(RuntimeError, match="broken 2"):
        verify(b"m", b"s")
    with pytest.raises(TypeError):
        NativeVerify(broken, (), InvalidSignature)(b"m")  # type: ignore[call-arg]


def test_arguments_reach_the_method_in_order() -> None:
    seen: list[tuple[Any, ...]] = []

    def method(*args: Any) -> None:
        seen.append(args)
        if args[0] == b"bad":
            raise InvalidSignature

    verify = NativeVerify(method, ("pad", "hash"), InvalidSignature)
    assert verify(b"message", b"good") is True
    assert verify(b"message", b"bad") is False
    assert seen == [(b"good", b"message", "pad", "hash"), (b"bad", b"message", "pad", "hash")]
    with pytest.raises(TypeError):
        verify(b"message", signature=b"good")  # type: ignore[call-arg]
    sized = NativeVerify(method, (), InvalidSignature, 4)
    assert sized(b"m", b"four") is True and sized(b"m", b"five!") is False
    assert len(seen) == 3  # the wrong length never reached the method
    assert "NativeVerify" in repr(sized)


@pytest.mark.parametrize(
    "arguments",
    [
        ("not callable", (), InvalidSignature),
        (print, [], InvalidSignature),
        (print, (1, 2, 3, 4, 5), InvalidSignature),
        (print, (), "not an exception"),
        (print, (), InvalidSignature, -2),
    ],
)
def test_bad_construction_is_a_type_error(arguments: tuple[Any, ...]) -> None:
    with pytest.raises(TypeError):
        NativeVerify(*arguments)
