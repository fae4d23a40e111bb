"""Claim checks for one definition: time (exp, nbf, iat, max_age), audience, required claims.

The time rule follows Liberty's (reference §4.1) with strict comparisons: a token is valid
while ``now - skew < exp``; ``nbf`` and ``iat`` may be at most ``skew`` in the future.
Unlike Liberty, ``exp`` is always required and every time claim must be a finite,
non-negative JSON number (never a boolean or string), so a token cannot dodge a check by
changing a claim's type.

:func:`compile_claims` turns a definition's checks into one closure for the hot path: it
answers "certainly passes" (returning ``exp``) or "not sure" (None), and on "not sure" the
verifier runs :func:`check_claims`, the reference, which refuses with every detail. The
closure may only ever be *stricter* than the reference (``tests/test_tokencache.py`` checks
both on generated claims sets). Measured on the benchmark machine (2026-11-23): 0.75 µs per
token against 3.07 µs for ``check_claims`` with its trace steps.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from realmgate.configmodel import ClientDefinition
from realmgate.errors import ClaimRefused
from realmgate.trace import Trace, TraceLevel, TraceStep

STRING_CLAIMS = ("iss", "sub", "jti")
MAX_NUMERIC_DATE = 253402300799
"""9999-12-31T23:59:59Z: beyond that no clock comparison is meaningful."""

ClaimsCheck = Callable[[dict[str, Any], float], float | None]


def iso(ts: float) -> str:
    """Seconds since the epoch as ISO-8601 UTC with milliseconds, like Liberty's messages."""
    try:
        moment = datetime.fromtimestamp(ts, UTC)
    except (OverflowError, OSError, ValueError):
        return f"{ts!r} (out of range)"
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def numeric_date(claims: dict[str, Any], name: str) -> float | None:
    """The claim as a NumericDate, None if absent; refuses every non-number form."""
    value = claims.get(name)
    if value is None:
        if name in claims:
            raise ClaimRefused("RG4007E", claim=name, detail="null instead of a number")
        return None
    if type(value) is int:
        if value < 0:
            raise ClaimRefused("RG4007E", claim=name, detail=f"negative value {value}")
        if value > MAX_NUMERIC_DATE:
            raise ClaimRefused("RG4007E", claim=name, detail=f"value {value} is beyond year 9999")
        return float(value)
    if type(value) is float:
        if not math.isfinite(value) or value < 0 or value > MAX_NUMERIC_DATE:
            raise ClaimRefused("RG4007E", claim=name, detail=f"value {value!r} is out of range")
        return value
    kind = "a boolean" if isinstance(value, bool) else type(value).__name__
    raise ClaimRefused("RG4007E", claim=name, detail=f"{kind} instead of a number")


def check_times(
    definition: ClientDefinition, claims: dict[str, Any], now: float, trace: Trace
) -> float:
    """Run exp/nbf/iat/max_age; return exp."""
    skew = definition.clock_skew
    exp = numeric_date(claims, "exp")
    nbf = numeric_date(claims, "nbf")
    iat = numeric_date(claims, "iat")
    if exp is None:
        trace.add("claims", "exp", "fail", present=False)
        raise ClaimRefused("RG4002E", client=definition.id)
    if not now - skew < exp:
        trace.add("claims", "exp", "fail", exp=exp, now=now, skew=skew)
        raise ClaimRefused(
            "RG4001E",
            exp=_num(exp),
            exp_iso=iso(exp),
            now_iso=iso(now),
            skew=skew,
            late=_num(round(now - exp, 3)),
            client=definition.id,
        )
    trace.add("claims", "exp", "pass", exp=exp, now=now, skew=skew)
    if nbf is not None:
        if nbf > now + skew:
            trace.add("claims", "nbf", "fail", nbf=nbf, now=now, skew=skew)
            raise ClaimRefused(
                "RG4003E", nbf=_num(nbf), nbf_iso=iso(nbf), now_iso=iso(now), skew=skew
            )
        trace.add("claims", "nbf", "pass", nbf=nbf, now=now, skew=skew)
    if iat is not None:
        if iat > now + skew:
            trace.add("claims", "iat", "fail", iat=iat, now=now, skew=skew)
            raise ClaimRefused(
                "RG4004E", iat=_num(iat), iat_iso=iso(iat), now_iso=iso(now), skew=skew
            )
        if iat > exp:
            trace.add("claims", "iat", "fail", iat=iat, exp=exp)
            raise ClaimRefused("RG4006E", iat_iso=iso(iat), exp_iso=iso(exp))
        trace.add("claims", "iat", "pass", iat=iat, now=now, skew=skew)
    if definition.max_age is not None:
        if iat is None:
            trace.add("claims", "max_age", "fail", iat=None)
            raise ClaimRefused("RG4011E", claims="['iat'] (max_age is set)", client=definition.id)
        age = now - iat
        if age > definition.max_age + skew:
            trace.add("claims", "max_age", "fail", age=age, max_age=definition.max_age)
            raise ClaimRefused(
                "RG4005E",
                age=_num(round(age)),
                iat_iso=iso(iat),
                max_age=definition.max_age,
                client=definition.id,
            )
        trace.add("claims", "max_age", "pass", age=age, max_age=definition.max_age)
    return exp


def check_audience(definition: ClientDefinition, claims: dict[str, Any], trace: Trace) -> None:
    if definition.audiences_any:
        trace.add("claims", "aud", "skip", reason='audiences = "any"')
        return
    expected = definition.audiences
    aud = claims.get("aud")
    if aud is not None:
        if isinstance(aud, str):
            values: tuple[str, ...] = (aud,)
        elif isinstance(aud, list) and aud and all(isinstance(a, str) for a in aud):
            values = tuple(aud)
        else:
            raise ClaimRefused(
                "RG4007E", claim="aud", detail="must be a string or a non-empty list of strings"
            )
    if expected is None:
        trace.add("claims", "aud", "skip", reason="no audiences configured")
        return
    if aud is None:
        trace.add("claims", "aud", "fail", present=False, expected=list(expected))
        raise ClaimRefused("RG4010E", client=definition.id, expected=list(expected))
    if not any(value in expected for value in values):
        trace.add("claims", "aud", "fail", aud=list(values), expected=list(expected))
        raise ClaimRefused(
            "RG4009E", aud=list(values), client=definition.id, expected=list(expected)
        )
    trace.add("claims", "aud", "pass", aud=list(values))


def check_claims(
    definition: ClientDefinition, claims: dict[str, Any], now: float, trace: Trace
) -> float:
    """All claim checks of a definition except issuer (selection did it) and replay.
    Returns ``exp``."""
    for name in STRING_CLAIMS:
        value = claims.get(name)
        if value is not None and not isinstance(value, str):
            raise ClaimRefused(
                "RG4007E", claim=name, detail=f"{type(value).__name__}, not a string"
            )
    exp = check_times(definition, claims, now, trace)
    check_audience(definition, claims, trace)
    if definition.required_claims:
        missing = [c for c in definition.required_claims if c not in claims]
        if missing:
            trace.add("claims", "required", "fail", missing=missing)
            raise ClaimRefused("RG4011E", claims=missing, client=definition.id)
        trace.add("claims", "required", "pass", required=list(definition.required_claims))
    return exp


def compile_claims(definition: ClientDefinition) -> ClaimsCheck:
    """The definition's claim checks as one closure ``(claims, now) -> exp | None``: ``exp``
    when :func:`check_claims` would pass, None when it might not (run it then)."""
    skew = definition.clock_skew
    max_age = definition.max_age
    check_aud = not definition.audiences_any
    expected = frozenset(definition.audiences) if definition.audiences is not None else None
    required = definition.required_claims
    top = MAX_NUMERIC_DATE
    numbers = frozenset((int, float))  # type(x) in ...: not bool, which subclasses int

    def _times(claims: dict[str, Any], exp: Any, nbf: Any, iat: Any, now: float) -> bool:
        # "0 <= x <= top" is False for NaN and the infinities, as the reference requires.
        if type(exp) not in numbers or not 0 <= exp <= top or not now - skew < exp:
            return False
        if nbf is None:
            if "nbf" in claims:
                return False
        elif type(nbf) not in numbers or not 0 <= nbf <= top or nbf > now + skew:
            return False
        if iat is None:
            return max_age is None and "iat" not in claims
        if type(iat) not in numbers or not 0 <= iat <= top or iat > now + skew or iat > exp:
            return False
        return max_age is None or now - iat <= max_age + skew

    def check(claims: dict[str, Any], now: float) -> float | None:
        get = claims.get
        # Stricter than the reference on purpose: a present null iss/sub/jti goes to it.
        if (
            type(get("iss", "")) is not str
            or type(get("sub", "")) is not str
            or type(get("jti", "")) is not str
        ):
            return None
        exp = get("exp")
        nbf = get("nbf")
        iat = get("iat")
        if int is type(exp) is type(nbf) is type(iat):  # the usual token: one short path
            latest = now + skew  # "<= top" for nbf follows from latest <= top
            if not (
                latest <= top
                and 0 <= nbf <= latest
                and 0 <= iat <= latest
                and iat <= exp <= top
                and now - skew < exp
            ):
                return None
            if max_age is not None and now - iat > max_age + skew:
                return None
        elif not _times(claims, exp, nbf, iat, now):
            return None
        if check_aud:
            aud = get("aud")
            if aud is not None:
                if type(aud) is str:
                    if expected is not None and aud not in expected:
                        return None
                elif type(aud) is list and aud and all(type(a) is str for a in aud):
                    if expected is not None and not any(a in expected for a in aud):
                        return None
                else:
                    return None
            elif expected is not None:
                return None
        if required:
            for name in required:
                if name not in claims:
                    return None
        return float(exp)  # type: ignore[arg-type]  # a number: checked above

    return check


def passed_steps(
    definition: ClientDefinition, claims: dict[str, Any], now: float
) -> tuple[TraceStep, ...]:
    """The trace steps :func:`check_claims` writes for claims that pass (a lazy trace
    record's expansion: the reference itself, run again on the same inputs)."""
    trace = Trace(TraceLevel.STEPS)
    check_claims(definition, claims, now, trace)
    return trace.steps()


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value
