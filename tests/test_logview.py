"""``realmgate logview``: encodings (EBCDIC too), flowing, record selection, JSON, --follow."""

from __future__ import annotations

import argparse
import io
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from realmgate import logview
from realmgate.cli import logview_cmd
from realmgate.ebcdic import CP1047_DECODING_TABLE, decode_record, detect_encoding
from realmgate.errors import UsageError
from realmgate.logrender import flow_line, render_record, text_width
from realmgate.logview import ViewOptions, follow, view

# The characters where the EBCDIC code pages differ, and brackets (which decide detection).
SPECIAL = "[x] ^ ¬ Ý ¨ ¯ ´ ¢ | !"
RECORDS = [
    f"[11/23/26 10:00:00:123 GMT] 00000042 JwtTokenConsumerImpl > parse Entry {SPECIAL}",
    "[11/23/26 10:00:00:124 GMT] 00000042 JwtTokenConsumerImpl < parse Exit IBMUSER",
    "[11/23/26 10:00:00:125 GMT] 00000042 realm=zOSMF user=colin {ok}",
]


# --- helpers ------------------------------------------------------------------------------


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="realmgate")
    sub = parser.add_subparsers(dest="command")
    logview_cmd.register(sub)
    return parser


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    args = make_parser().parse_args(["logview", *argv])
    assert args.func(args) == 0
    return capsys.readouterr().out


def ebcdic_bytes(records: list[str], codepage: str, line_end: bytes = b"\x15") -> bytes:
    return b"".join(r.encode(codepage) + line_end for r in records)


def shown(path: Path, encoding: str = "auto", width: int = 200, **kw: int | None) -> list[str]:
    out = io.StringIO()
    with path.open("rb") as fh:
        view(fh, out, ViewOptions(width=width, encoding=encoding), **kw)  # type: ignore[arg-type]
    return out.getvalue().splitlines()


# --- the cp1047 table ---------------------------------------------------------------------

# Published IBM-1047 values (glibc localedata/charmaps/IBM1047, GNU libiconv ebcdic1047.h),
# written out here rather than derived, so that the table is checked, not restated.
IBM1047_PUBLISHED = {
    0x40: " ",
    0x4A: "¢",
    0x4B: ".",
    0x4F: "|",
    0x5A: "!",
    0x5F: "^",
    0x6D: "_",
    0x79: "`",
    0x7C: "@",
    0x81: "a",
    0xA1: "~",
    0xAD: "[",
    0xB0: "¬",
    0xBA: "Ý",
    0xBB: "¨",
    0xBC: "¯",
    0xBD: "]",
    0xBE: "´",
    0xC0: "{",
    0xC1: "A",
    0xD0: "}",
    0xE0: "\\",
    0xF0: "0",
    0xF9: "9",
    0x15: "\x85",
    0x25: "\n",
}
IBM037_PUBLISHED = {
    0x5F: "¬",
    0xAD: "Ý",
    0xB0: "^",
    0xBA: "[",
    0xBB: "]",
    0xBD: "¨",
    0xBC: "¯",
    0xBE: "´",
}


def test_cp1047_table_matches_published_values() -> None:
    for byte, char in IBM1047_PUBLISHED.items():
        assert CP1047_DECODING_TABLE[byte] == char, hex(byte)
    cp037 = bytes(range(256)).decode("cp037")
    for byte, char in IBM037_PUBLISHED.items():
        assert cp037[byte] == char, hex(byte)
    differing = {b for b in range(256) if cp037[b] != CP1047_DECODING_TABLE[b]}
    assert differing == {0x5F, 0xAD, 0xB0, 0xBA, 0xBB, 0xBD}
    assert len(set(CP1047_DECODING_TABLE)) == 256  # a permutation: every byte round-trips


def test_cp1047_codec_is_registered() -> None:
    assert "[a]^".encode("cp1047") == b"\xad\x81\xbd\x5f"
    assert b"\xad\xbd\x5f\xb0".decode("cp1047") == "[]^¬"
    assert bytes(range(256)).decode("ibm-1047").encode("cp1047") == bytes(range(256))


# --- encodings ----------------------------------------------------------------------------


@pytest.mark.parametrize("codepage", ["cp037", "cp1047", "cp500"])
@pytest.mark.parametrize("line_end", [b"\x15", b"\x25", b"\x0d\x15"])
def test_ebcdic_file_explicit_encoding(tmp_path: Path, codepage: str, line_end: bytes) -> None:
    path = tmp_path / f"trace.{codepage}"
    path.write_bytes(ebcdic_bytes(RECORDS, codepage, line_end))
    assert shown(path, codepage) == RECORDS


@pytest.mark.parametrize("codepage", ["cp037", "cp1047", "cp500"])
def test_ebcdic_file_auto_detected(tmp_path: Path, codepage: str) -> None:
    path = tmp_path / "trace.log"
    data = ebcdic_bytes(RECORDS, codepage)
    path.write_bytes(data)
    assert detect_encoding(data) == codepage
    assert shown(path) == RECORDS


def test_the_differing_bytes_decode_differently(tmp_path: Path) -> None:
    data = bytes([0x5F, 0xAD, 0xB0, 0xBA, 0xBB, 0xBD, 0xBC, 0xBE, 0x4A, 0x4F, 0x5A])
    assert decode_record(data, "cp037") == "¬Ý^[]¨¯´¢|!"
    assert decode_record(data, "cp1047") == "^[¬Ý¨]¯´¢|!"
    assert decode_record(data, "cp500") == "^Ý¢¬|¨¯´[!]"


def test_ebcdic_without_brackets_prefers_cp1047() -> None:
    data = "user IBMUSER mapped from realm zOSMF".encode("cp037")  # same bytes in all three
    assert detect_encoding(data) == "cp1047"


def test_cp037_brackets_decide_for_cp037() -> None:
    data = "one [bracket] pair, then plain words only".encode("cp037")
    assert data.count(0xBA) == 1
    assert detect_encoding(data) == "cp037"


def test_utf8_multibyte(tmp_path: Path) -> None:
    records = ["héllo wörld — ünïcødé", "世界 fullwidth ＡＢＣ", "emoji 🙂 and combining é"]
    path = tmp_path / "utf8.log"
    path.write_text("\n".join(records) + "\n", encoding="utf-8")
    assert detect_encoding(path.read_bytes()) == "utf-8"
    assert shown(path) == records
    assert shown(path, "utf-8") == records


def test_utf8_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "win.log"
    path.write_bytes("\ufeffone\r\ntwo\r\n".encode())
    assert shown(path) == ["one", "two"]


def test_ascii(tmp_path: Path) -> None:
    path = tmp_path / "ascii.log"
    path.write_bytes(b"plain ascii record\nsecond {json: no}\n")
    assert detect_encoding(path.read_bytes()) == "ascii"
    assert shown(path) == ["plain ascii record", "second {json: no}"]
    path.write_bytes(b"bad byte \xff here\n")
    assert shown(path, "ascii") == ["bad byte \ufffd here"]


@pytest.mark.parametrize("encoding", ["auto", "utf-8", "ascii", "cp037", "cp1047", "cp500"])
def test_undecodable_bytes_never_crash(tmp_path: Path, encoding: str) -> None:
    path = tmp_path / "noise.bin"
    path.write_bytes(bytes(range(256)) * 4 + b"\xc3\x28\xe2\x82\n\xf0\x9f")
    lines = shown(path, encoding, width=40)
    assert lines
    for line in lines:
        assert text_width(line) <= 40
        assert "\x1b" not in line and "\x85" not in line


def test_output_stream_that_cannot_encode(tmp_path: Path) -> None:
    path = tmp_path / "u.log"
    path.write_text("Jürgen 世界\n", encoding="utf-8")
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="ascii")
    with path.open("rb") as fh:
        view(fh, out, ViewOptions(width=80))
    out.flush()
    assert raw.getvalue() == b"J?rgen ??\n"


# --- flowing ------------------------------------------------------------------------------


def test_flow_keeps_words_and_indents_continuations() -> None:
    record = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu"
    lines = flow_line(record, 20)
    assert lines[0] == "alpha beta gamma"
    assert all(line.startswith("    ") for line in lines[1:])
    assert all(len(line) <= 20 for line in lines)
    assert " ".join(w for line in lines for w in line.split()) == record


def test_flow_splits_very_long_tokens() -> None:
    token = "x" * 95
    lines = flow_line(f"key={token} end", 30)
    assert all(len(line) <= 30 for line in lines)
    assert "".join(line.strip() for line in lines).replace(" ", "") == f"key={token}end"
    assert lines[-1].endswith("x end")  # the word after the split tail stays whole


def test_flow_wide_characters_count_two_cells() -> None:
    record = "世界" * 30
    lines = flow_line(record, 21)
    assert all(text_width(line) <= 21 for line in lines)
    assert text_width(lines[0]) == 20  # ten wide characters; the 11th would need 22
    assert "".join(line.strip() for line in lines) == record


@pytest.mark.parametrize("width", [10, 11, 17, 33, 80])
def test_flow_never_exceeds_width(width: int) -> None:
    record = (
        "[11/23/26 10:00:00:123 GMT] 0000002a com.ibm.ws.security.jwt.internal.JwtUtils "
        "< parse Exit eyJhbGciOiJSUzM4NCJ9" + "Q" * 150 + " ünï 世界 done  two  spaces"
    )
    lines = render_record(record, width)
    assert all(text_width(line) <= width for line in lines)
    assert "".join("".join(line.split()) for line in lines) == "".join(record.split())


def test_control_characters_are_escaped() -> None:
    lines = render_record("red \x1b[31m text\x07 bidi \u202e tab\tend", 200)
    assert lines == ["red \\x1b[31m text\\x07 bidi \\u202e tab   end"]
    assert lines[0].index("end") % 8 == 0  # the tab reaches the next tab stop as shown


def test_width_option_and_cli_flow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "long.log"
    path.write_text("word " * 60 + "\n")
    out = run_cli(capsys, str(path), "--width", "40")
    lines = out.splitlines()
    assert len(lines) > 5
    assert all(len(line) <= 40 for line in lines)
    assert lines[1].startswith("    word")


def test_terminal_width_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "30")
    path = tmp_path / "long.log"
    path.write_text("word " * 60 + "\n")
    out = run_cli(capsys, str(path))
    assert max(len(line) for line in out.splitlines()) <= 30


# --- selecting records --------------------------------------------------------------------


@pytest.fixture
def numbered(tmp_path: Path) -> Path:
    path = tmp_path / "numbered.log"
    path.write_text("".join(f"record {n}\n" for n in range(1, 21)))
    return path


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        ([], list(range(1, 21))),
        (["--from", "5", "--lines", "3"], [5, 6, 7]),
        (["--from", "18"], [18, 19, 20]),
        (["--from", "-3"], [18, 19, 20]),
        (["--from", "-3", "--lines", "2"], [18, 19]),
        (["--lines", "2"], [1, 2]),
        (["--from", "-50"], list(range(1, 21))),
        (["--from", "25"], []),
        (["--from", "20", "--lines", "9"], [20]),
    ],
)
def test_from_and_lines(
    numbered: Path, capsys: pytest.CaptureFixture[str], argv: list[str], expected: list[int]
) -> None:
    out = run_cli(capsys, str(numbered), *argv)
    assert out.splitlines() == [f"record {n}" for n in expected]


def test_blank_lines_are_not_records_and_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "gaps.log"
    path.write_bytes(b"\n\none\n\r\n\ntwo\n\nthree")
    assert shown(path) == ["one", "two", "three"]
    assert shown(path, start=-2) == ["two", "three"]
    assert shown(path, start=2, count=1) == ["two"]


@pytest.mark.parametrize("codepage", ["cp037", "cp1047"])
def test_tail_across_block_boundaries(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, codepage: str
) -> None:
    monkeypatch.setattr(logview, "CHUNK_BYTES", 7)
    records = [f"rec {n}:" + "z" * (n % 5) for n in range(1, 40)]
    path = tmp_path / "e.log"
    path.write_bytes(ebcdic_bytes(records, codepage, b"\x25\x15"))  # NL and LF: empty between
    assert shown(path, codepage) == records
    for n in (1, 2, 7, 38, 39, 60):
        assert shown(path, codepage, start=-n) == records[-n:]


def test_stdin(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    fake = io.TextIOWrapper(io.BytesIO(b"a\nb\nc\n"))
    monkeypatch.setattr("sys.stdin", fake)
    assert run_cli(capsys, "-", "--from", "-2").splitlines() == ["b", "c"]


# --- usage errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message_id"),
    [
        (["--from", "0"], "RG0001E"),
        (["--lines", "0"], "RG0001E"),
        (["--lines", "-4"], "RG0001E"),
        (["--width", "5"], "RG0001E"),
        (["--width", "wide"], "RG0001E"),
        (["--from", "x"], "RG0001E"),
        (["--follow", "--from", "3", "--lines", "2"], "RG0001E"),
    ],
)
def test_bad_options(numbered: Path, argv: list[str], message_id: str) -> None:
    args = make_parser().parse_args(["logview", str(numbered), *argv])
    with pytest.raises(UsageError) as info:
        args.func(args)
    assert info.value.message_id == message_id


def test_missing_file_and_directory(tmp_path: Path) -> None:
    for target in (tmp_path / "absent.log", tmp_path):
        for extra in ([], ["--follow"]):
            args = make_parser().parse_args(["logview", str(target), *extra])
            with pytest.raises(UsageError) as info:
                args.func(args)
            assert info.value.message_id == "RG0002E"
            assert str(target) in info.value.text


def test_parser_defaults() -> None:
    args = make_parser().parse_args(["logview", "f"])
    assert args.json_pretty is True and args.encoding == "auto" and not args.follow
    args = make_parser().parse_args(["logview", "f", "--no-json-pretty", "--encoding", "cp500"])
    assert args.json_pretty is False and args.encoding == "cp500"
    assert args.func is logview_cmd.handler


# --- JSON records -------------------------------------------------------------------------


def test_json_records_pretty_printed_in_key_order(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {
        "ts": "2026-11-23T10:00:00.123Z",
        "level": "FINE",
        "logger": "realmgate.decision",
        "msg": "accepted",
        "client": "mq",
        "nested": {"z": 1, "a": [1, "ü"]},
    }
    path = tmp_path / "j.log"
    path.write_text(json.dumps(record) + "\nplain text record\n" + '{"not": json\n')
    out = run_cli(capsys, str(path), "--width", "120")
    expected = json.dumps(record, indent=2, ensure_ascii=False).splitlines()
    assert out.splitlines() == [*expected, "plain text record", '{"not": json']
    assert out.index('"ts"') < out.index('"level"') < out.index('"nested"')
    assert out.index('"z"') < out.index('"a"')


def test_no_json_pretty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "j.log"
    line = '{"a": 1, "b": [1, 2]}'
    path.write_text(line + "\n")
    assert run_cli(capsys, str(path), "--no-json-pretty").splitlines() == [line]


def test_json_with_duplicate_keys_is_shown_as_written() -> None:
    assert render_record('{"sub": "alice", "sub": "root"}', 80) == [
        '{"sub": "alice", "sub": "root"}'
    ]


def test_long_json_values_are_flowed(tmp_path: Path) -> None:
    record = json.dumps({"msg": "word " * 40})
    lines = render_record(record, 40)
    assert lines[0] == "{"
    assert all(len(line) <= 40 for line in lines)
    assert lines[1].startswith('  "msg": "word')
    assert lines[2].startswith("      word")  # the JSON indent plus the continuation indent


def test_ebcdic_json_record(tmp_path: Path) -> None:
    path = tmp_path / "j.e"
    path.write_bytes('{"user": "IBMUSER", "groups": ["SYS1"]}'.encode("cp1047") + b"\x15")
    assert shown(path, "cp1047") == [
        "{",
        '  "user": "IBMUSER",',
        '  "groups": [',
        '    "SYS1"',
        "  ]",
        "}",
    ]


# --- follow -------------------------------------------------------------------------------


class Collector(io.StringIO):
    """A thread-safe output for the follow loop."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def write(self, text: str) -> int:
        with self._lock:
            return super().write(text)

    def lines(self) -> list[str]:
        with self._lock:
            return self.getvalue().splitlines()


def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Follower:
    def __init__(self, path: Path, encoding: str = "auto", start: int = -10) -> None:
        self.out = Collector()
        self.notices: list[str] = []
        self.stop = threading.Event()
        self.result: list[int] = []
        self.thread = threading.Thread(
            target=lambda: self.result.append(
                follow(
                    str(path),
                    self.out,
                    ViewOptions(width=200, encoding=encoding),
                    start,
                    poll_interval=0.02,
                    stop=self.stop,
                    notice=self.notices.append,
                )
            ),
            daemon=True,
        )

    def __enter__(self) -> Follower:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        assert not self.thread.is_alive(), "follow did not stop"

    def saw(self, *lines: str) -> bool:
        return wait_for(lambda: self.out.lines()[-len(lines) :] == list(lines))


def append(path: Path, data: bytes) -> None:
    with path.open("ab") as fh:
        fh.write(data)
        fh.flush()


def test_follow_shows_tail_then_appended_records(numbered: Path) -> None:
    with Follower(numbered, start=-2) as f:
        assert f.saw("record 19", "record 20")
        append(numbered, b"record 21\nrecord 2")
        assert f.saw("record 21")
        time.sleep(0.1)
        assert f.out.lines()[-1] == "record 21"  # the incomplete line is held back
        append(numbered, b"2 done\n")
        assert f.saw("record 22 done")
    assert f.out.lines() == ["record 19", "record 20", "record 21", "record 22 done"]
    assert f.result == [4]


def test_follow_from_a_record_number(numbered: Path) -> None:
    with Follower(numbered, start=19) as f:
        assert f.saw("record 19", "record 20")
    assert f.out.lines() == ["record 19", "record 20"]


def test_follow_survives_truncation(numbered: Path) -> None:
    with Follower(numbered, start=-1) as f:
        assert f.saw("record 20")
        with numbered.open("wb") as fh:  # truncate, as an editor saving fewer lines does
            fh.write(b"kept 1\n")
        assert f.saw("kept 1")
        append(numbered, b"after truncate\n")
        assert f.saw("kept 1", "after truncate")
    assert any("truncated" in n for n in f.notices)


def test_follow_survives_delete_and_recreate(numbered: Path) -> None:
    with Follower(numbered, start=-1) as f:
        assert f.saw("record 20")
        numbered.unlink()
        assert wait_for(lambda: any("deleted" in n for n in f.notices))
        numbered.write_bytes(b"new file 1\nnew file 2\n")
        assert f.saw("new file 1", "new file 2")
        append(numbered, b"new file 3\n")
        assert f.saw("new file 3")
    assert any("new file" in n for n in f.notices)


def test_follow_replace_by_rename_with_another_encoding(tmp_path: Path) -> None:
    path = tmp_path / "trace.log"
    path.write_bytes(b"ascii record\n")
    with Follower(path) as f:
        assert f.saw("ascii record")
        replacement = tmp_path / "trace.new"
        replacement.write_bytes(ebcdic_bytes(RECORDS, "cp037"))
        os.replace(replacement, path)  # a new inode at the same name
        assert f.saw(*RECORDS)


def test_follow_empty_file_then_ebcdic_data(tmp_path: Path) -> None:
    path = tmp_path / "empty.log"
    path.write_bytes(b"")
    with Follower(path) as f:
        time.sleep(0.05)
        append(path, ebcdic_bytes(RECORDS[:1], "cp1047"))
        assert f.saw(RECORDS[0])


def test_follow_stops_cleanly_on_ctrl_c(numbered: Path) -> None:
    script = textwrap.dedent(
        """
        import argparse, sys
        from realmgate.cli import logview_cmd
        parser = argparse.ArgumentParser()
        logview_cmd.register(parser.add_subparsers())
        args = parser.parse_args(["logview", sys.argv[1], "--follow", "--lines", "1"])
        sys.exit(args.func(args))
        """
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    proc = subprocess.Popen(
        [sys.executable, "-c", script, str(numbered)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()  # the follow loop is running once this arrives
        assert first == "record 20\n"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
    assert proc.returncode == 0
    assert "Traceback" not in err
