"""Liberty attribute values: durations, booleans, lists, encoded passwords, names.

Durations follow Liberty's ``MetatypeUtils.evaluateDuration``: a plain integer is in the
attribute's own unit (milliseconds for ``ibm:type="duration"``, such as ``clockSkew``;
seconds for ``duration(s)``; hours for ``duration(h)``), otherwise the text is a sequence of
``<digits><unit>`` with the units ``d``, ``h``, ``m``, ``s``, ``ms`` (``1h30m``, ``5m``,
``300s``, ``1500ms``; case and spaces ignored). Each part is converted to the result unit
by truncation, as Java's ``TimeUnit.convert`` does.
"""

from __future__ import annotations

import base64
import binascii
import re
from fractions import Fraction

_PART = re.compile(r"(\d+)(\D+)")
_UNITS_MS = {"d": 86_400_000, "h": 3_600_000, "m": 60_000, "s": 1_000, "ms": 1}
_INTEGER = re.compile(r"^[+-]?\d+$")

#: The unit of a plain number, per attribute type (milliseconds per unit).
MS = 1
SECONDS = 1_000
HOURS = 3_600_000

#: Attributes whose value is a password or key: never shown, never written.
SECRET_ATTRIBUTES = frozenset(
    {"password", "clientSecret", "sharedKey", "jwkClientSecret", "keyPassword"}
)


class BadValue(ValueError):
    """The value cannot be read; the message says why (for an RG6111E)."""


def duration_seconds(text: str, plain_unit_ms: int) -> tuple[int, str]:
    """``(seconds, how)``: whole seconds (truncated) and a note on the conversion."""
    value = text.strip()
    if _INTEGER.match(value):
        number = int(value)
        exact = Fraction(number * plain_unit_ms, 1000)
        unit = {MS: "milliseconds", SECONDS: "seconds", HOURS: "hours"}[plain_unit_ms]
        how = f"a plain number is in {unit} for this attribute"
    else:
        total_ms = 0
        position = 0
        parts = list(_PART.finditer(value))
        if not parts or parts[0].start() != 0:
            raise BadValue(f"{text!r} is not a duration such as 300s, 5m or 1h30m")
        for part in parts:
            if part.start() != position:
                raise BadValue(f"{text!r} is not a duration such as 300s, 5m or 1h30m")
            unit_text = part.group(2).strip().lower()
            if unit_text not in _UNITS_MS:
                raise BadValue(f"{text!r}: unit {unit_text!r} is not one of d, h, m, s, ms")
            total_ms += int(part.group(1)) * _UNITS_MS[unit_text]
            position = part.end()
        exact = Fraction(total_ms, 1000)
        how = ""
    seconds = int(exact)  # truncation toward zero, as Liberty
    if exact != seconds:
        note = f"{float(exact):g} s, truncated to {seconds} s"
        how = f"{how}; {note}" if how else note
    return seconds, how


def boolean(text: str) -> bool:
    """Liberty booleans: ``true``/``false`` in any case (anything else is refused here,
    where Liberty would log an error and use the default)."""
    value = text.strip().lower()
    if value in ("true", "false"):
        return value == "true"
    raise BadValue(f"{text!r} is not true or false")


def split_list(text: str, *, spaces: bool = False) -> list[str]:
    """A Liberty list attribute: comma separated (and space separated for
    ``issuerIdentifier``, as its code splits on both); empty pieces dropped."""
    pattern = r"[,\s]+" if spaces else r"\s*,\s*"
    return [piece for piece in re.split(pattern, text.strip()) if piece]


def decode_password(text: str) -> tuple[str | None, str]:
    """``(clear text or None, encoding)`` of a Liberty password attribute.

    ``{xor}`` is only an obfuscation (base64 of the bytes XOR ``_``) and is decoded;
    ``{aes}``, ``{hash}`` and ``{custom:…}`` cannot be decoded without Liberty's keys, so
    None is returned and the user is asked to provide the clear password.
    """
    value = text.strip()
    lowered = value.lower()
    if lowered.startswith("{xor}"):
        try:
            raw = base64.b64decode(value[5:], validate=True)
        except (binascii.Error, ValueError):
            return None, "{xor}"
        return bytes(b ^ 0x5F for b in raw).decode("utf-8", "replace"), "{xor}"
    if value.startswith("{") and "}" in value:
        return None, value[: value.index("}") + 1]
    return value, "clear text"


def env_name(*parts: str) -> str:
    """An environment variable name built from ``parts``: upper case, non-alphanumerics
    as ``_`` (``REALMGATE_KEYSTORE_DEFAULTKEYSTORE_PASSWORD``)."""
    text = "_".join(parts)
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper()
    return name if not name[:1].isdigit() else f"_{name}"
