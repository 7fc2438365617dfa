"""YAML loading: every hostile document is a located error, within bounded time and memory."""

from __future__ import annotations

import re
import time
import tracemalloc

import pytest

from streambuild.errors import ManifestError
from streambuild import textdoc
from streambuild.yamldoc import Limits, load, load_bytes


def _error(text: str, limits: Limits = Limits()) -> str:
    with pytest.raises(ManifestError) as info:
        load(text, "m.yaml", limits)
    return str(info.value)


def test_values_and_their_places() -> None:
    doc = load("a: 1\nb:\n- x\n- {c: true, d: ~, e: 1.5, f: '2'}\n", "m.yaml")
    assert doc.data == {"a": 1, "b": ["x", {"c": True, "d": None, "e": 1.5, "f": "2"}]}
    assert str(doc.where(("b", 1, "e"))) == "m.yaml:4:22"
    assert str(doc.where_key(("b",))) == "m.yaml:2:1"
    assert str(doc.where(("b", 7))) == "m.yaml:3:1"  # the nearest parent


def test_dates_stay_strings_and_non_specific_tags_are_strings() -> None:
    assert load("ref: 2024-06-01\nbad: 2020-13-45\nv: ! 12\n", "m.yaml").data == {
        "ref": "2024-06-01", "bad": "2020-13-45", "v": "12"}


@pytest.mark.parametrize(
    "text, where, words",
    [
        ("a: !!int abc\n", "m.yaml:1:4", "YAML tags (!!int)"),
        ("a: !!timestamp 2001-12-14\n", "m.yaml:1:4", "YAML tags (!!timestamp)"),
        ("a: !!python/object:os.system x\n", "m.yaml:1:4", "YAML tags (!!python/object:os.system)"),
        ("a: !!binary abc\n", "m.yaml:1:4", "YAML tags"),
        ("a: !local {}\n", "m.yaml:1:4", "YAML tags (!local)"),
        ("a: 1\n<<: {b: 1}\n", "m.yaml:2:1", "merge keys"),
        ("a: &x [1]\nb: *y\n", "m.yaml:2:4", "no anchor &y"),
        ("a: &x [*x]\n", "m.yaml:1:8", "contains it"),
        ("a: &x 1\nb: &x 2\n", "m.yaml:2:4", "defined twice"),
        ("? [a]\n: b\n", "m.yaml:1:3", "plain strings"),
        ("a: 1\na: 2\n", "m.yaml:2:1", "duplicate key 'a'"),
        ("a: 1\n---\nb: 2\n", "m.yaml:2:1", "single document"),
        ("a: " + "9" * 5000 + "\n", "m.yaml:1:4", "as a number"),
        ("a: [\n", "m.yaml:2:1", "not valid YAML"),
        ("a:\n  - b\n c: d\n", "m.yaml:3:2", "not valid YAML"),
        ("a: 'x\x00y'\n", "m.yaml:1:6", "U+0000"),
        ("a: b\nc: \x1b[31m\n", "m.yaml:2:4", "U+001B"),
        ("a: b\nc: x\x85y\n", "m.yaml:2:5", "U+0085"),
        ("a: b\u2028c: d\n", "m.yaml:1:5", "U+2028"),
        ("a: \ud800\n", "m.yaml:1:4", "U+D800"),
        ("a: b\r\nc: \x07\n", "m.yaml:2:4", "U+0007"),
    ],
)
def test_hostile_documents_are_located_errors(text: str, where: str, words: str) -> None:
    message = _error(text)
    assert message.startswith(where + ": "), message
    assert words in message


def test_invalid_utf8_names_line_and_column() -> None:
    with pytest.raises(ManifestError) as info:
        load_bytes("base: x\nname: dé\xff".encode("utf-8", "surrogateescape").replace(b"\xc3\xbf", b"\xff"), "m.yaml")
    assert str(info.value).startswith("m.yaml:2:9: not valid UTF-8: byte 0xff"), str(info.value)
    assert load_bytes(b"\xef\xbb\xbfa: 1\n", "m.yaml").data == {"a": 1}  # a byte-order mark is fine


def test_depth_is_bounded_without_recursion() -> None:
    assert "nested more than 64 levels" in _error("a: " + "[" * 100_000 + "]" * 100_000)
    assert "nested more than 64 levels" in _error("a:\n" + "".join(" " * i + "- \n" for i in range(200)))
    assert load("a: " + "[" * 60 + "]" * 60, "m.yaml").data is not None


def test_size_is_bounded() -> None:
    assert "more than the 100 allowed" in _error("a: " + "x" * 100, Limits(max_bytes=100))
    with pytest.raises(ManifestError, match="more than the 100 allowed"):
        load_bytes(b"a: " + b"x" * 100, "m.yaml", Limits(max_bytes=100))


def test_an_alias_bomb_is_refused_before_it_is_expanded() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 10)]
    tracemalloc.start()
    start = time.monotonic()
    message = _error("\n".join(lines) + "\n")
    elapsed = time.monotonic() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert "more than 1000000 values (aliases counted as expanded)" in message
    assert message.startswith("m.yaml:7:"), message  # 9**7 > 10**6: the alias that crosses the bound
    assert elapsed < 5 and peak < 50 * 1024 * 1024


def test_aliases_within_the_bound_share_their_anchor() -> None:
    doc = load("m: &m {x: 1}\nb: [*m, *m]\n", "m.yaml")
    assert doc.data["b"] == [{"x": 1}, {"x": 1}]
    assert str(doc.where(("b", 1, "x"))) == "m.yaml:2:9"


def test_tags_that_say_what_a_value_is_are_allowed() -> None:
    doc = load("version: !!str 1.10\nm: !!map {a: !!str 1}\ns: !!seq [x]\n", "m.yaml")
    assert doc.data == {"version": "1.10", "m": {"a": "1"}, "s": ["x"]}
    assert "YAML tags (!!map)" in _error("s: !!map [x]\n")
    assert "YAML tags (!!str)" in _error("s: !!str [x]\n")


def test_the_refused_characters_are_exactly_those_outside_yamls_printable_set() -> None:
    printable = re.compile("[\x09\x0a\x0d\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
    for code in [*range(0x10000), 0x10000, 0x1fffe, 0x10ffff]:
        char = chr(code)
        assert bool(textdoc.FORBIDDEN.match(char)) != bool(printable.match(char)), hex(code)
