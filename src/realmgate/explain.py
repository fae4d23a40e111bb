"""A human report of one decision: the token as decoded, each definition, each check, the fix.

This is the answer to days lost on "signature verification failure": it shows the times
(absolute and relative to now), the issuer seen vs. expected, the key tried, the realm and
where it came from, and the catalogue's user action for the failing step.
"""

from __future__ import annotations

import base64
import json
import time
from typing import Any

from realmgate.claims import iso
from realmgate.decision import Decision
from realmgate.messages import CATALOGUE

TIME_CLAIMS = ("iat", "nbf", "exp")


def decode_unverified(token: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None, str]:
    """Best-effort decode for display only (never for a decision): header, claims, note."""
    parts = token.split(".")
    if len(parts) != 3:
        return None, None, f"{len(parts)} segments (a signed JWT has 3)"
    decoded: list[dict[str, Any] | None] = []
    notes: list[str] = []
    for name, part in zip(("header", "payload"), parts[:2], strict=True):
        try:
            raw = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
            value = json.loads(raw)
            decoded.append(value if isinstance(value, dict) else None)
        except (ValueError, UnicodeDecodeError) as exc:
            decoded.append(None)
            notes.append(f"{name} not decodable: {exc}")
    return decoded[0], decoded[1], "; ".join(notes)


def relative(ts: float, now: float) -> str:
    delta = ts - now
    span = abs(delta)
    if span < 120:
        text = f"{span:.0f}s"
    elif span < 3600:
        text = f"{span / 60:.1f} min"
    elif span < 172800:
        text = f"{span / 3600:.1f} h"
    else:
        text = f"{span / 86400:.1f} days"
    return f"in {text}" if delta > 0 else f"{text} ago"


def _claim_lines(claims: dict[str, Any], now: float) -> list[str]:
    lines = []
    for name, value in claims.items():
        shown = json.dumps(value, ensure_ascii=False)
        if len(shown) > 200:
            shown = shown[:200] + "…"
        if name in TIME_CLAIMS and isinstance(value, (int, float)) and not isinstance(value, bool):
            shown += f"  = {iso(float(value))} ({relative(float(value), now)})"
        lines.append(f"    {name}: {shown}")
    return lines


def render_report(token: str, decision: Decision, now: float | None = None) -> str:
    now = time.time() if now is None else now
    out: list[str] = []
    verdict = "ACCEPTED" if decision.accepted else "REFUSED"
    out.append(f"realmgate explain — token {decision.token_hash or '?'} — {verdict}")
    out.append(f"  now: {iso(now)}")
    header, claims, note = decode_unverified(token)
    out.append("")
    out.append("Token (decoded without verification, for display):")
    if header is not None:
        out.append("  header:")
        out.extend(_claim_lines(header, now))
    if claims is not None:
        out.append("  claims:")
        out.extend(_claim_lines(claims, now))
    if note:
        out.append(f"  note: {note}")
    out.append("")
    out.append("Steps:")
    for step in decision.trace:
        if (
            step.check in ("header", "claims")
            and step.stage == "jws"
            and "ignored" not in step.detail
        ):
            continue
        mark = {"pass": "ok  ", "fail": "FAIL", "skip": "skip", "info": "info"}.get(
            step.outcome, "    "
        )
        out.append(f"  {mark} [{step.stage}] {step.check}{_detail(step.detail, now)}")
    out.append("")
    if decision.accepted:
        out.append(
            f"Result: accepted by definition {decision.client_id!r}: subject "
            f"{decision.subject!r}, realm {decision.realm!r} (from {decision.realm_source}), "
            f"local user {decision.local_user!r}"
            + (f" via rule {decision.mapping_rule}" if decision.mapping_rule else "")
        )
    else:
        out.append(f"Result: {decision.reason}")
        entry = CATALOGUE.get(decision.message_id or "")
        if entry:
            out.append(f"  Why: {entry.explanation}")
            out.append(f"  Fix: {entry.action}")
    return "\n".join(out)


def _detail(detail: Any, now: float) -> str:
    if not detail:
        return ""
    parts = []
    for key, value in dict(detail).items():
        if key in ("exp", "nbf", "iat", "now") and isinstance(value, (int, float)):
            parts.append(f"{key}={iso(float(value))}")
        else:
            parts.append(f"{key}={value!r}")
    return ": " + ", ".join(parts)
