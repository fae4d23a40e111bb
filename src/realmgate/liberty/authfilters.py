"""``<authFilter>`` → ``[[auth_filter]]`` with one ``[[auth_filter.condition]]`` per child.

Children and the attribute holding their pattern:

==================  ==================  =========================================
Liberty child       realmgate kind      pattern
==================  ==================  =========================================
``remoteAddress``   ``remote_address``  ``ip`` (``10.1.*.*``, ``10.1.[0-7].*``, ``|``)
``requestUrl``      ``request_url``     ``urlPattern``
``host``            ``host``            ``name``
``userAgent``       ``user_agent``      ``agent``
``requestHeader``   ``request_header``  ``name`` (header) and optional ``value``
``cookie``          ``cookie``          ``name``, matched against the raw ``Cookie``
                                        header as Liberty's code does
``webApp``          (none)              realmgate hosts no applications
==================  ==================  =========================================

``matchType`` (default ``contains``; ``equals``, ``notContain``, ``greaterThan``,
``lessThan`` in any letter case) becomes ``match``. Each condition is checked here with the
same code that loads the TOML, so a bad IP pattern is reported at its XML line.

A condition realmgate cannot evaluate (``webApp``, an unknown child) is left out with a
warning: the filter then accepts *more* requests than Liberty's did. A filter left with no
condition is not imported (the TOML loader refuses empty filters, which would accept all).
"""

from __future__ import annotations

from realmgate.configmodel import FilterCondition, Location
from realmgate.errors import RealmgateError
from realmgate.filters import canonical_match, compile_condition
from realmgate.liberty.context import Definition, ImportContext
from realmgate.liberty.report import TomlTable
from realmgate.liberty.serverxml import Element

CHILDREN = {
    "remoteAddress": ("remote_address", "ip"),
    "requestUrl": ("request_url", "urlPattern"),
    "host": ("host", "name"),
    "userAgent": ("user_agent", "agent"),
    "requestHeader": ("request_header", "value"),
    "cookie": ("cookie", "name"),
}


def convert_filter(ctx: ImportContext, element: Element, filter_id: str) -> bool:
    """Append the filter's table to ``ctx.tables``; False when it could not be imported."""
    d = Definition(ctx, element, "auth_filter", filter_id)
    for number, child in enumerate(element.children, start=1):
        condition = _condition(ctx, d, child, number)
        if condition is not None:
            d.table.conditions.append(condition)
    d.finish({})
    if not d.table.conditions and not d.failed:
        d.ctx.problem(
            "RG6111E",
            file=element.file,
            line=element.line,
            element="authFilter",
            id=filter_id,
            attribute="(conditions)",
            value="",
            detail="no condition realmgate can evaluate; a filter without conditions would "
            "accept every request, so it is not imported",
        )
        d.failed = True
    if d.failed:
        ctx.element_entry(element, "skipped", "not imported: see the problems above")
        return False
    ctx.tables.append(d.table)
    return True


def _condition(
    ctx: ImportContext, parent: Definition, child: Element, number: int
) -> TomlTable | None:
    label = child.id or f"{parent.table_id}#{number}"
    d = Definition(ctx, child, "condition", label, keep_id=False)
    if child.tag not in CHILDREN:
        why = (
            "realmgate does not host applications, so it cannot match an application name"
            if child.tag == "webApp"
            else f"<{child.tag}> is not an authFilter condition realmgate knows"
        )
        d.finish({name: "part of a condition that is left out" for name in child.attrs})
        parent.warn(
            "(conditions)",
            f"<{child.tag}> at {child.where} is left out: {why}; "
            "the filter now accepts more requests than in Liberty",
        )
        ctx.element_entry(child, "skipped", f"left out: {why}")
        return None
    kind, pattern = CHILDREN[child.tag]
    d.set("kind", kind, f"<{child.tag}>")
    match_text = d.value("matchType")
    if match_text is None:
        d.set("match", "contains", "matchType not set: Liberty's default contains")
        match = "contains"
    else:
        match = canonical_match(match_text) or match_text
        d.mapped("matchType", "match", match)
    name: str | None = None
    value: str | None
    if child.tag == "requestHeader":
        name = d.value("name")
        if name is not None:
            d.mapped("name", "name", name)
        value = d.value("value")
        if value is not None:
            d.mapped("value", "value", value)
    elif child.tag == "cookie":
        value = d.value("name")
        if value is not None:
            d.mapped(
                "name",
                "value",
                value,
                "matched against the raw Cookie header, as Liberty's code does",
            )
    else:
        value = d.value(pattern)
        if value is not None:
            d.mapped(pattern, "value", value)
    spec = FilterCondition(kind, match, value, name, Location(child.file, child.line))
    try:
        compile_condition(spec, parent.table_id, child.file)
    except RealmgateError as exc:
        detail = str(exc.values.get("detail", exc.text))
        attribute = "matchType" if detail.startswith("match") else pattern
        attr = child.attrs.get(attribute)
        d.ctx.problem(
            "RG6111E",
            file=child.file,
            line=attr.line if attr else child.line,
            element=child.tag,
            id=parent.table_id,
            attribute=attribute,
            value=(match_text if attribute == "matchType" else value) or "",
            detail=detail,
        )
        parent.failed = True
    d.finish({}, ("matchType", pattern, "name", "value"))
    return d.table
