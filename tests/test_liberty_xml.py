"""Reading Liberty XML: safe parsing with lines, variables, includes, merging, durations."""

from __future__ import annotations

import base64
import textwrap
from pathlib import Path

import pytest

from realmgate.errors import RealmgateError
from realmgate.liberty.serverxml import load_server_xml
from realmgate.liberty.values import (
    HOURS,
    MS,
    SECONDS,
    BadValue,
    decode_password,
    duration_seconds,
    split_list,
)
from realmgate.liberty.variables import Variables, env_name_variants
from realmgate.liberty.xmlread import parse_xml_bytes


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def ids(problems: list[RealmgateError]) -> list[str]:
    return [p.message_id for p in problems]


# --- XML --------------------------------------------------------------------------------


def test_every_attribute_keeps_its_own_line() -> None:
    root = parse_xml_bytes(
        b'<server>\n  <openidConnectClient id="a"\n     issuerIdentifier="x"\n\n'
        b'     realmName="r"/>\n</server>',
        "s.xml",
    )
    client = root.children[0]
    assert client.line == 2
    assert client.attr_lines == {"id": 2, "issuerIdentifier": 3, "realmName": 5}


@pytest.mark.parametrize(
    "document",
    [
        b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 '
        b'"&lol;&lol;&lol;">]>\n<server a="&lol2;"/>',
        b'<!DOCTYPE server SYSTEM "http://example.invalid/x.dtd"><server/>',
        b'<!DOCTYPE server [<!ENTITY x SYSTEM "file:///etc/passwd">]><server>&x;</server>',
    ],
)
def test_dtds_and_entities_are_refused_before_expansion(document: bytes) -> None:
    with pytest.raises(RealmgateError) as caught:
        parse_xml_bytes(document, "evil.xml")
    assert caught.value.message_id == "RG6103E"
    assert "root:" not in caught.value.text


def test_malformed_xml_names_the_line() -> None:
    with pytest.raises(RealmgateError) as caught:
        parse_xml_bytes(b"<server>\n  <keyStore id='a'>\n</server>\n", "bad.xml")
    assert caught.value.message_id == "RG6102E"
    assert caught.value.text.startswith("RG6102E bad.xml:3:")


@pytest.mark.parametrize(
    ("codec", "declaration"),
    [("cp1047", ""), ("cp1047", "IBM-1047"), ("cp037", "IBM-037"), ("utf-16", "UTF-16")],
)
def test_ebcdic_and_utf16_files_are_decoded(tmp_path: Path, codec: str, declaration: str) -> None:
    head = f'<?xml version="1.0" encoding="{declaration}"?>\n' if declaration else ""
    text = head + '<server>\n<variable name="v" value="é[1]"/>\n</server>\n'
    (tmp_path / "server.xml").write_bytes(text.encode(codec))
    xml = load_server_xml(tmp_path / "server.xml", environ={})
    assert xml.problems == []
    assert xml.variables.lookup("v") is not None
    assert xml.variables.resolve("${v}").text == "é[1]"


def test_the_root_must_be_server(tmp_path: Path) -> None:
    xml = load_server_xml(write(tmp_path / "server.xml", "<client/>"), environ={})
    assert ids(xml.problems) == ["RG6102E"]
    assert "not <server>" in xml.problems[0].text


def test_a_missing_file_is_reported(tmp_path: Path) -> None:
    xml = load_server_xml(tmp_path / "nope.xml", environ={})
    assert ids(xml.problems) == ["RG6101E"]


# --- variables --------------------------------------------------------------------------


def test_resolution_order_follows_liberty() -> None:
    variables = Variables(
        {"A": "env", "B": "env", "C": "env", "D_E": "env-upper"},
        command_line={"A": "cmd"},
        bootstrap={"B": "bootstrap", "C": "bootstrap"},
    )
    variables.define("A", "xml", "default", "s.xml:1")
    variables.define("B", "xml", None, "s.xml:2")
    variables.define("F", None, "default-only", "s.xml:3")
    variables.define("C", None, "default", "s.xml:4")
    assert variables.resolve("${A}").text == "cmd"  # command line beats everything
    assert variables.resolve("${B}").text == "xml"  # value beats bootstrap and env
    assert variables.resolve("${C}").text == "bootstrap"  # bootstrap beats env and default
    assert variables.resolve("${d.e}").text == "env-upper"  # NAME upper-cased, '.' → '_'
    assert variables.resolve("${F}").text == "default-only"
    assert variables.resolve("${env.A}").text == "env"  # env. reads only the environment
    assert env_name_variants("izu.https.port") == ["izu.https.port", "IZU_HTTPS_PORT"]


def test_nested_list_arithmetic_cycles_and_unresolved() -> None:
    variables = Variables({"PORT": "9443"})
    variables.define("host", "mvs1", None, "s.xml:1")
    variables.define("url", "https://${host}:${PORT}/jwt", None, "s.xml:2")
    variables.define("loop", "${loop2}", None, "s.xml:3")
    variables.define("loop2", "${loop}", None, "s.xml:4")
    assert variables.resolve("${url}").text == "https://mvs1:9443/jwt"
    assert variables.resolve("${list(host)}").text == "mvs1"
    assert variables.resolve("${PORT+1}").text == "9444"
    assert variables.resolve("${PORT/2}").text == "4721"
    cycle = variables.resolve("${loop}")
    assert cycle.cycles and cycle.text == "${loop}"
    missing = variables.resolve("a${nope}b")
    assert missing.text == "a${nope}b" and missing.unresolved == ["nope"]


def test_variables_and_bootstrap_in_a_server(tmp_path: Path) -> None:
    write(tmp_path / "bootstrap.properties", "# comment\nboot.var = from-bootstrap\n")
    path = write(
        tmp_path / "server.xml",
        """
        <server>
          <variable name="t1" value="*=info"/>
          <variable name="t2" defaultValue="x=fine"/>
          <jwtBuilder id="b" issuer="${boot.var}|${t1}:${t2}|${undefined.thing}"/>
        </server>
        """,
    )
    xml = load_server_xml(path, environ={})
    builder = xml.find("jwtBuilder", "b")
    assert builder is not None
    resolved = xml.resolve(builder.attrs["issuer"])
    assert resolved.text == "from-bootstrap|*=info:x=fine|${undefined.thing}"
    assert ids(xml.problems) == ["RG6108W"]
    assert "server.xml:4" in xml.problems[0].text


# --- includes and merging ---------------------------------------------------------------


def test_includes_relative_optional_missing_and_cycles(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "a.xml", '<server><include location="../b.xml"/>'
          '<keyStore id="k" location="a"/></server>')  # fmt: skip
    write(tmp_path / "b.xml", '<server><include location="conf/a.xml"/></server>')
    path = write(
        tmp_path / "server.xml",
        """
        <server>
          <include location="conf/a.xml"/>
          <include location="gone.xml" optional="true"/>
          <include location="also-gone.xml"/>
        </server>
        """,
    )
    xml = load_server_xml(path, environ={})
    assert sorted(ids(xml.problems)) == ["RG6104E", "RG6105W", "RG6106E"]
    cycle = next(p for p in xml.problems if p.message_id == "RG6106E")
    assert "a.xml → b.xml → a.xml" in cycle.text
    assert xml.find("keyStore", "k") is not None


def test_include_location_uses_variables_and_directories(tmp_path: Path) -> None:
    write(tmp_path / "d" / "1.xml", '<server><keyStore id="one" location="x"/></server>')
    write(tmp_path / "d" / "2.xml", '<server><keyStore id="two" location="y"/></server>')
    path = write(
        tmp_path / "server.xml",
        '<server><variable name="dir" value="${server.config.dir}/d"/>'
        '<include location="${dir}"/></server>',
    )
    xml = load_server_xml(path, environ={})
    assert xml.problems == []
    assert [e.id for e in xml.of("keyStore")] == ["one", "two"]


@pytest.mark.parametrize(
    ("conflict", "expected"),
    [
        ("MERGE", {"location": "inc", "type": "PKCS12", "password": "main"}),
        ("REPLACE", {"location": "inc", "password": "main"}),
        ("IGNORE", {"location": "main", "type": "PKCS12", "password": "main"}),
    ],
)
def test_on_conflict(tmp_path: Path, conflict: str, expected: dict[str, str]) -> None:
    write(tmp_path / "inc.xml", '<server><keyStore id="k" location="inc"/></server>')
    path = write(
        tmp_path / "server.xml",
        f"""
        <server>
          <keyStore id="k" location="main" type="PKCS12"/>
          <include location="inc.xml" onConflict="{conflict.lower()}"/>
          <keyStore id="k" password="main"/>
        </server>
        """,
    )
    xml = load_server_xml(path, environ={})
    keystore = xml.find("keyStore", "k")
    assert keystore is not None
    assert {n: a.raw for n, a in keystore.attrs.items() if n != "id"} == expected
    assert xml.problems == []


def test_later_attributes_win_and_text_children_are_lists(tmp_path: Path) -> None:
    path = write(
        tmp_path / "server.xml",
        """
        <server>
          <mpJwt id="m" issuer="first" audiences="x"/>
          <mpJwt id="m" issuer="second"><audiences>a</audiences><audiences>b</audiences></mpJwt>
          <authFilter><host name="h1"/></authFilter>
          <authFilter><host name="h2"/></authFilter>
        </server>
        """,
    )
    xml = load_server_xml(path, environ={})
    mp = xml.find("mpJwt", "m")
    assert mp is not None
    assert mp.attrs["issuer"].raw == "second" and mp.attrs["issuer"].line == 3
    assert mp.attrs["audiences"].raw == "a, b"
    assert mp.sources == ["server.xml:2", "server.xml:3"]
    assert len(xml.of("authFilter")) == 2  # no id: separate elements


# --- values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "unit", "seconds"),
    [
        ("5m", MS, 300),
        ("300s", MS, 300),
        ("1h30m", MS, 5400),
        ("1h 30m", MS, 5400),
        ("1d", MS, 86400),
        ("1500ms", MS, 1),
        ("2M", MS, 120),
        ("300", MS, 0),  # a plain number of a "duration" attribute is milliseconds
        ("300000", MS, 300),
        ("600", SECONDS, 600),
        ("2", HOURS, 7200),
        ("-1", SECONDS, -1),
    ],
)
def test_durations(text: str, unit: int, seconds: int) -> None:
    assert duration_seconds(text, unit)[0] == seconds


def test_truncated_durations_say_so_and_bad_ones_are_refused() -> None:
    assert "truncated" in duration_seconds("1500ms", MS)[1]
    for bad in ("5 minutes", "1.5h", "m5", "", "5x"):
        with pytest.raises(BadValue):
            duration_seconds(bad, MS)


def test_passwords_and_lists() -> None:
    xor = "{xor}" + base64.b64encode(bytes(b ^ 0x5F for b in b"s3cret")).decode()
    assert decode_password(xor) == ("s3cret", "{xor}")
    assert decode_password("{aes}ABCD") == (None, "{aes}")
    assert decode_password("plain") == ("plain", "clear text")
    assert split_list("a, b,,c") == ["a", "b", "c"]
    assert split_list("zOSMF PYTHON,LINUX", spaces=True) == ["zOSMF", "PYTHON", "LINUX"]
