"""Liberty-style auth filters: every kind and match type, IP patterns, absent headers."""

from __future__ import annotations

import pytest

from realmgate.configmodel import AuthFilterSpec, FilterCondition, Location
from realmgate.errors import RealmgateError
from realmgate.filters import CompiledFilter, canonical_match, compile_filter, cookie_value
from realmgate.ipmatch import parse_address_pattern
from realmgate.request import RequestInfo


def make(
    *conditions: tuple[str, str, str | None] | tuple[str, str, str | None, str],
) -> CompiledFilter:
    conds = tuple(
        FilterCondition(c[0], c[1], c[2], c[3] if len(c) > 3 else None, Location("f.toml", i + 1))
        for i, c in enumerate(conditions)
    )
    return compile_filter(AuthFilterSpec("f", conds))


def req(
    headers: dict[str, str] | None = None, addr: str | None = "10.1.2.3", url: str | None = None
) -> RequestInfo:
    return RequestInfo.build(headers or {}, remote_addr=addr, url=url)


def accepted(f: CompiledFilter, request: RequestInfo) -> bool:
    return f.evaluate(request).accepted


# --- string kinds × match types -------------------------------------------------------

STRING_KINDS = [
    ("request_url", None, lambda v: req(url=v)),
    ("host", None, lambda v: req({"Host": v})),
    ("user_agent", None, lambda v: req({"User-Agent": v})),
    ("request_header", "X-Tenant", lambda v: req({"x-tenant": v})),
    ("cookie", "team", lambda v: req({"Cookie": f"a=1; team={v}; b=2"})),
]


@pytest.mark.parametrize(("kind", "name", "build"), STRING_KINDS)
def test_equals_is_exact_and_not_split(kind, name, build):
    f = make((kind, "equals", "alpha|beta", name) if name else (kind, "equals", "alpha|beta"))
    assert accepted(f, build("alpha|beta"))
    assert not accepted(f, build("alpha"))
    assert not accepted(f, build("xalpha|betax"))


@pytest.mark.parametrize(("kind", "name", "build"), STRING_KINDS)
def test_contains_any_alternative_is_a_substring(kind, name, build):
    f = make((kind, "contains", "alpha|beta", name) if name else (kind, "contains", "alpha|beta"))
    assert accepted(f, build("xx-beta-yy"))
    assert accepted(f, build("alpha"))
    result = f.evaluate(build("gamma"))
    assert not result.accepted
    assert "contains none of 'alpha|beta'" in result.reason
    assert result.condition_index == 0


@pytest.mark.parametrize(("kind", "name", "build"), STRING_KINDS)
def test_not_contains_is_the_negation(kind, name, build):
    f = make(
        (kind, "not_contains", "alpha|beta", name) if name else (kind, "not_contains", "alpha|beta")
    )
    assert accepted(f, build("gamma"))
    result = f.evaluate(build("has beta inside"))
    assert not result.accepted
    assert "contains 'beta' (not_contains)" in result.reason


@pytest.mark.parametrize(("kind", "name", "build"), STRING_KINDS)
def test_absent_header_rejects_except_not_contains(kind, name, build):
    empty = req({}, url=None)
    for match in ("equals", "contains"):
        f = make((kind, match, "alpha", name) if name else (kind, match, "alpha"))
        result = f.evaluate(empty)
        assert not result.accepted
        assert "absent" in result.reason
    f = make((kind, "not_contains", "alpha", name) if name else (kind, "not_contains", "alpha"))
    assert accepted(f, empty)


@pytest.mark.parametrize("kind", ["request_url", "host", "user_agent", "request_header", "cookie"])
def test_greater_and_less_than_only_for_addresses(kind):
    for match in ("greater_than", "less_than"):
        with pytest.raises(RealmgateError) as caught:
            make(
                (kind, match, "x", "n")
                if kind in ("request_header", "cookie")
                else (kind, match, "x")
            )
        assert caught.value.message_id == "RG6012E"
        assert "only to remote_address" in caught.value.text


def test_request_url_includes_query_and_star_is_literal():
    f = make(("request_url", "contains", "/api/*"))
    assert not accepted(f, req(url="https://h/api/orders"))
    assert accepted(f, req(url="https://h/api/*?x=1"))
    g = make(("request_url", "contains", "debug=1"))
    assert accepted(g, req(url="https://h/p?debug=1"))


def test_reason_hides_query_values_and_header_values():
    f = make(("request_url", "equals", "https://h/ok"))
    reason = f.evaluate(req(url="https://h/p?access_token=SECRETVALUE&x")).reason
    assert "SECRETVALUE" not in reason
    assert "access_token=…" in reason
    g = make(("request_header", "equals", "good", "X-Api-Key"))
    reason = g.evaluate(req({"X-Api-Key": "topsecret"})).reason
    assert "topsecret" not in reason
    assert "sha256" in reason


def test_all_conditions_must_hold_first_failure_reported():
    f = make(("host", "contains", "example.com"), ("user_agent", "not_contains", "curl"))
    assert accepted(f, req({"Host": "a.example.com", "User-Agent": "Firefox"}))
    result = f.evaluate(req({"Host": "a.example.com", "User-Agent": "curl/8.0"}))
    assert (result.accepted, result.condition_index) == (False, 1)
    result = f.evaluate(req({"Host": "other.org", "User-Agent": "curl/8.0"}))
    assert result.condition_index == 0


def test_request_header_presence_only():
    f = make(("request_header", "equals", None, "X-Internal"))
    assert accepted(f, req({"X-Internal": "anything"}))
    assert not accepted(f, req({}))
    g = make(("request_header", "not_contains", None, "X-Internal"))
    assert accepted(g, req({}))
    assert not accepted(g, req({"X-Internal": "1"}))


def test_cookie_named_value_vs_raw_header():
    named = make(("cookie", "equals", "blue", "team"))
    assert accepted(named, req({"Cookie": 'x=1; team="blue"'}))
    assert not accepted(named, req({"Cookie": "x=team; blue=1"}))
    assert not accepted(named, req({"Cookie": "x=1"}))  # cookie absent
    raw = make(("cookie", "contains", "team=blue"))
    assert accepted(raw, req({"Cookie": "a=1; team=blue"}))
    assert not accepted(raw, req({}))
    assert cookie_value("a=1; team=red; team=blue", "team") == "red"


def test_match_aliases_and_case():
    assert canonical_match("notContain") == "not_contains"
    assert canonical_match("NOTCONTAINS") == "not_contains"
    assert canonical_match("greaterThan") == "greater_than"
    assert canonical_match("lessThan") == "less_than"
    assert canonical_match("Equals") == "equals"
    assert canonical_match("like") is None
    f = make(("host", "notContain", "evil"))
    assert accepted(f, req({"Host": "good"}))
    assert not accepted(f, req({"Host": "evil.org"}))


@pytest.mark.parametrize(
    ("condition", "fragment"),
    [
        (("method", "equals", "GET"), "kind 'method'"),
        (("host", "like", "x"), "match 'like'"),
        (("request_header", "equals", "x"), "needs 'name'"),
        (("host", "equals", "x", "n"), "'name' applies only"),
        (("host", "equals", None), "needs a 'value'"),
        (("host", "contains", "a||b"), "empty '|' alternative"),
        (("remote_address", "equals", "10.0.0.1|10.0.0.2"), "'|' alternatives"),
        (("remote_address", "equals", "10.*.1.*"), "every later part must be '*'"),
        (("remote_address", "equals", "10.1.[7-0].*"), "runs backwards"),
        (("remote_address", "equals", "10.1.256.*"), "over 255"),
        (("remote_address", "equals", "10.1.*"), "4 dot-separated parts"),
        (("remote_address", "equals", "10.0.0.1/8"), "not a CIDR network"),
        (("remote_address", "equals", "fd00:*:1:*:*:*:*:*"), "every later part"),
        (("remote_address", "equals", "not-an-ip"), "not an IP address"),
        (("request_header", "equals", "x", "Bad Header"), "not a valid"),
    ],
)
def test_bad_conditions_raise_rg6012e_with_location(condition, fragment):
    with pytest.raises(RealmgateError) as caught:
        make(condition)
    error = caught.value
    assert error.message_id == "RG6012E"
    assert fragment in error.text
    assert error.values["file"] == "f.toml"
    assert error.values["line"] == 1
    assert error.values["filter"] == "f"


# --- IP addresses ---------------------------------------------------------------------


def test_ipv4_wildcards():
    f = make(("remote_address", "equals", "10.1.*.*"))
    assert accepted(f, req(addr="10.1.0.0"))
    assert accepted(f, req(addr="10.1.255.255"))
    result = f.evaluate(req(addr="10.2.0.1"))
    assert not result.accepted
    assert result.reason == "remote_address 10.2.0.1 is not in 10.1.*.* (equals)"


def test_ipv4_range_part():
    f = make(("remote_address", "equals", "10.1.[0-7].*"))
    assert accepted(f, req(addr="10.1.0.9"))
    assert accepted(f, req(addr="10.1.7.255"))
    assert not accepted(f, req(addr="10.1.8.0"))
    r = parse_address_pattern("10.1.[0-7].*")
    assert (r.low, r.high) == (0x0A010000, 0x0A0107FF)


def test_exact_and_cidr_and_contains_alternatives():
    exact = make(("remote_address", "equals", "192.168.1.10"))
    assert accepted(exact, req(addr="192.168.1.10"))
    assert not accepted(exact, req(addr="192.168.1.11"))
    cidr = make(("remote_address", "contains", "10.0.0.0/8|172.16.0.0/12"))
    assert accepted(cidr, req(addr="172.31.255.1"))
    assert accepted(cidr, req(addr="10.200.0.1"))
    assert not accepted(cidr, req(addr="172.32.0.1"))
    outside = make(("remote_address", "not_contains", "10.0.0.0/8|127.0.0.1"))
    assert accepted(outside, req(addr="192.0.2.1"))
    result = outside.evaluate(req(addr="127.0.0.1"))
    assert not result.accepted
    assert "is in 127.0.0.1 (not_contains)" in result.reason


def test_ipv6_patterns_and_mapped_ipv4():
    cidr = make(("remote_address", "equals", "fd00::/8"))
    assert accepted(cidr, req(addr="fd12:3456::1"))
    assert not accepted(cidr, req(addr="fe80::1"))
    wild = make(("remote_address", "equals", "2001:db8:*:*:*:*:*:*"))
    assert accepted(wild, req(addr="2001:db8:ffff::1"))
    assert not accepted(wild, req(addr="2001:db9::1"))
    compressed = make(("remote_address", "equals", "2001:db8::[0-f]"))
    assert accepted(compressed, req(addr="2001:db8::a"))
    assert not accepted(compressed, req(addr="2001:db8::10"))
    exact = make(("remote_address", "equals", "::1"))
    assert accepted(exact, req(addr="[::1]"))
    v4 = make(("remote_address", "equals", "10.1.*.*"))
    assert accepted(v4, req(addr="::ffff:10.1.2.3"))
    assert not accepted(v4, req(addr="2001:db8::1"))


def test_greater_and_less_than_compare_with_range_bounds():
    above = make(("remote_address", "greaterThan", "10.1.*.*"))
    assert accepted(above, req(addr="10.2.0.0"))
    assert not accepted(above, req(addr="10.1.255.255"))
    assert not accepted(above, req(addr="9.0.0.1"))
    below = make(("remote_address", "less_than", "10.1.[4-7].*"))
    assert accepted(below, req(addr="10.1.3.255"))
    assert not accepted(below, req(addr="10.1.4.0"))
    result = below.evaluate(req(addr="::1"))
    assert not result.accepted
    assert "not IPv4" in result.reason


def test_unparseable_or_missing_address_fails_with_reason():
    f = make(("remote_address", "equals", "10.1.*.*"))
    result = f.evaluate(req(addr="unix:/tmp/sock"))
    assert not result.accepted
    assert "is not an IP address" in result.reason
    assert not accepted(f, req(addr=None))
    g = make(("remote_address", "not_contains", "10.1.*.*"))
    assert accepted(g, req(addr=None))


def test_compiled_filter_classmethod_matches_function():
    spec = AuthFilterSpec("x", (FilterCondition("host", "equals", "a"),))
    f = CompiledFilter.compile(spec)
    assert f.id == "x"
    assert accepted(f, req({"Host": "a"}))
    assert f.evaluate(req({"Host": "a"})).reason == "accepted"
