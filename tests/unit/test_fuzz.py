"""Property-based fuzzing of everything a user writes: manifests and locks.

Whatever the text, loading it either succeeds or raises one of the project's errors
(:class:`~streambuild.errors.StreamBuildError`) whose message starts with
``file:line:column``; never another exception, never an error without its place.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambuild import jsondoc
from streambuild.errors import LockError, StreamBuildError
from streambuild.lock import Lock, LockedComponent, SpecSource, read_lock
from streambuild.manifest import load_manifest, parse_manifest

SEED = (Path(__file__).parents[1] / "data" / "seed.yaml").read_text()
LONG = SEED + """name: demo
macros: {_with_tests: 1, with_cuda: false}
base_repos: ['https://dl.example.org/44/']
"""

HOSTILE = [
    "!!int abc", "!!timestamp 2020-13-45", "!!timestamp 2001-12-14", "!!float x", "!!binary abc", "!!set {a}",
    "!!python/object/apply:os.system [id]", "<<: {a: 1}", "*nope", "&a x", "&a [*a]", "http://[::1/",
    "ssh://-oProxyCommand=touch%20x/", "https://user:secret@h/", "\x00", "\x01", "\x1b[31m", "\ud800", "\x85",
    "\u2028", "\ufeff", "%(touch /tmp/x)", "%{lua: os.execute('id')}", "- - - -", "[" * 300, "{" * 300,
    "]" * 3, "}", "? [a]\n  : b", "1e999", "0x1F", "0o17", "1:30", "~", "null", "true", "[]", "{}", "'", '"',
    "\\", "\t", "---\n", "...\n", "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "!local x", "? a", ": b", "|\n  x",
    ">-", "9" * 5000, "-1", ".nan", ".inf", "ftp://x/", "file:relative", "http://", "git://h:99999/",
    "name: x\n", "type: git\n", "packages: []\n", "  - a:b\n", "install: {type: host}\n", "fedora-9" + "9" * 5000,
]

_LOCATED = re.compile(r"^[^:]+\.(yaml|lock):\d+:\d+: ")


def _check(load, *args) -> None:  # type: ignore[no-untyped-def]
    try:
        load(*args)
    except StreamBuildError as exc:
        assert exc.location is not None and exc.location.line and exc.location.column, repr(str(exc))
        assert _LOCATED.match(str(exc)), repr(str(exc))


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from([SEED, LONG]))
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace-line", "nest"]))
        if action == "insert":
            piece = draw(st.one_of(st.sampled_from(HOSTILE), st.text(min_size=1, max_size=8)))
            text = text[:at] + piece + text[at:]
        elif action == "delete":
            text = text[:at] + text[at + draw(st.integers(1, 40)):]
        elif action == "replace-line":
            lines = text.split("\n")
            index = at % len(lines)
            head = lines[index].partition(":")[0]
            lines[index] = head + ": " + draw(st.sampled_from(HOSTILE))
            text = "\n".join(lines)
        else:
            depth = draw(st.sampled_from([10, 63, 64, 65, 500, 5000]))
            text = text[:at] + "[" * depth + "]" * depth + text[at:]
    return text


SETTINGS = settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(mutated())
def test_mutated_manifests_fail_only_with_located_errors(text: str) -> None:
    _check(parse_manifest, text, "stream.yaml")


scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
                    st.sampled_from(HOSTILE))


def _containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4))


trees = st.recursive(scalars, _containers, max_leaves=20)
shapes = st.fixed_dictionaries(
    {"base": st.one_of(st.just("fedora-44-x86_64"), trees),
     "build": st.one_of(trees, st.lists(st.fixed_dictionaries(
         {"type": st.sampled_from(["dist-git", "git", "svn"]), "url": st.one_of(st.sampled_from(HOSTILE), trees),
          "packages": st.one_of(trees, st.lists(st.one_of(st.text(max_size=30), trees), max_size=3))},
         optional={"lookaside": trees}), max_size=2))},
    optional={"name": trees, "macros": trees, "install": trees, "base_repos": trees},
)


@SETTINGS
@given(shapes)
def test_wrong_shapes_fail_only_with_located_errors(data: dict) -> None:
    _check(parse_manifest, yaml.safe_dump(data, allow_unicode=True), "stream.yaml")


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@SETTINGS
@given(junk=st.binary(min_size=1, max_size=6), at=st.integers(0, len(SEED)))
def test_manifest_bytes_fail_only_with_located_errors(scratch: Path, junk: bytes, at: int) -> None:
    raw = SEED.encode()
    target = scratch / "stream.yaml"
    target.write_bytes(raw[:at] + junk + raw[at:])
    _check(load_manifest, str(target))


LOCK = json.dumps(Lock("fedora-44-x86_64", (
    LockedComponent("a", "dist-git", "https://src.example.org/rpms/a.git", "release-1", "refs/heads/release-1", "1" * 40),
    LockedComponent("b", "git", "https://example.org/b", "v1.0", "refs/tags/v1.0", "2" * 40,
                    SpecSource("https://src.example.org/rpms/b.git", "rawhide", "3" * 40)),
)).to_json(), indent=2, sort_keys=True) + "\n"
LOCK_HOSTILE = ['"', "{", "}", "[", "]", ",", ":", "\\", "\\u0000", "\\ud800", "\x00", "\x7f", "null", "true", "1e999",
                "-", "NaN", "Infinity", "[" * 100, '"--upload-pack=x"', '"ssh://-oProxyCommand=x/a"', '"http://[::1/"',
                '"extra": 1,', '"version": 1,', "9" * 5000, "1.0", '"refs/heads/x"']


@st.composite
def mutated_locks(draw: st.DrawFn) -> bytes:
    text = LOCK
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        if draw(st.booleans()):
            piece = draw(st.one_of(st.sampled_from(LOCK_HOSTILE), st.text(min_size=1, max_size=6)))
            text = text[:at] + piece + text[at:]
        else:
            text = text[:at] + text[at + draw(st.integers(1, 30)):]
    raw = text.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.binary(min_size=1, max_size=3)) + raw[at:]
    return raw


@SETTINGS
@given(raw=mutated_locks())
def test_mutated_locks_fail_only_with_located_errors(scratch: Path, raw: bytes) -> None:
    target = scratch / "stream.lock"
    target.write_bytes(raw)
    _check(read_lock, str(target))


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
              st.text(max_size=20), st.sampled_from(["1" * 40, "main", "refs/heads/main", "https://x/a.git"])),
    _containers, max_leaves=15)
component_shapes = st.fixed_dictionaries(
    {}, optional={k: json_values for k in ("name", "type", "url", "ref", "resolved", "commit", "spec_source", "x")})


@SETTINGS
@given(data=st.fixed_dictionaries({}, optional={"version": json_values, "base": json_values, "x": json_values,
                                                "components": st.one_of(json_values, st.lists(component_shapes,
                                                                                              max_size=3))}))
def test_wrong_lock_shapes_fail_only_with_located_errors(scratch: Path, data: dict) -> None:
    target = scratch / "stream.lock"
    target.write_text(json.dumps(data, indent=2))
    try:
        read_lock(str(target))
    except LockError as exc:
        assert _LOCATED.match(str(exc)), str(exc)
    else:
        raise AssertionError(f"accepted {data!r}")  # no generated shape is a complete, valid lock


@SETTINGS
@given(raw=mutated_locks())
def test_the_quick_lock_parser_accepts_only_what_the_located_one_accepts(raw: bytes) -> None:
    fast = jsondoc.quick(raw)
    try:
        slow = jsondoc.load_bytes(raw, "s.lock", LockError).data
    except LockError:
        assert fast is None
    else:
        assert fast is None or fast == slow
