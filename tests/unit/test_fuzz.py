"""Property-based fuzzing of everything a user writes: manifests and locks.

Whatever the text, loading it either succeeds or raises one of the project's errors
(:class:`~streambuild.errors.StreamBuildError`) whose message starts with
``file:line:column``; never another exception, never an error without its place.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streambuild.errors import StreamBuildError
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

_LOCATED = re.compile(r"^[^:]+\.yaml:\d+:\d+: ")


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
trees = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                      st.dictionaries(st.text(max_size=10), inner, max_size=4)),
                     max_leaves=20)
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
