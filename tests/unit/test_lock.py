from __future__ import annotations

import json
from pathlib import Path

import pytest

from streambuild.errors import LockError
from streambuild.lock import (Lock, LockedComponent, SpecSource, check_matches, differences, read_existing, read_lock,
                              write_lock)
from streambuild.manifest import parse_manifest

MANIFEST = """base: fedora-44-x86_64
build:
- type: dist-git
  url: https://src.example.org/rpms/
  packages: [a:release-1, b:release-2]
"""


def _lock(**changes: str) -> Lock:
    a = LockedComponent("a", "dist-git", "https://src.example.org/rpms/a.git", "release-1", "refs/heads/release-1", "1" * 40)
    b = LockedComponent("b", "dist-git", "https://src.example.org/rpms/b.git", "release-2", "refs/heads/release-2", "2" * 40,
                        SpecSource("https://src.example.org/rpms/b.git", "rawhide", "3" * 40))
    return Lock(changes.get("base", "fedora-44-x86_64"), (a, b))


def test_write_is_deterministic_and_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "s.lock"
    write_lock(str(path), _lock())
    first = path.read_bytes()
    write_lock(str(path), read_lock(str(path)))
    assert path.read_bytes() == first
    assert first.endswith(b"\n") and json.loads(first)["version"] == 1
    assert read_lock(str(path)) == _lock()


def test_matching_and_differences() -> None:
    manifest = parse_manifest(MANIFEST, "s.yaml")
    assert differences(manifest, _lock()) == []
    changed = parse_manifest(MANIFEST.replace("b:release-2", "b:release-3").replace("[a:", "[c:main, a:"), "s.yaml")
    assert differences(changed, _lock(base="fedora-43-x86_64")) == [
        "base is fedora-44-x86_64 in the manifest, fedora-43-x86_64 in the lock",
        "component c is in the manifest but not in the lock",
        "component b: ref is 'release-3' in the manifest, 'release-2' in the lock",
    ]
    with pytest.raises(LockError, match="does not match the manifest"):
        check_matches(changed, _lock(), "s.lock")


def _written(**changes: object) -> str:
    """A lock as write_lock writes it, with the first component's fields changed (None: removed)."""
    data = _lock().to_json()
    for key, value in changes.items():
        target = data if key in ("version", "base", "extra") else data["components"][0]
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


# In _written()'s layout (sorted keys, indent 2), the first component's fields are on lines 5-10.
@pytest.mark.parametrize(
    "content, where, words",
    [
        ("{", "1:2", "not valid JSON"),
        ("", "1:1", "the file is empty"),
        ("[]", "1:1", "expected an object, found a list"),
        ('{"version": 1, "version": 1}', "1:16", "duplicate key 'version'"),
        ("[" * 10000, "1:33", "nested more than 32 levels"),
        ('{"version": 1e999}', "1:13", "out of range"),
        ('{"version": NaN}', "1:13", "unexpected 'N'"),
        ('{"base": "\\u0000"}', "1:10", "U+0000"),
        ('{"base": "a\u0001"}', "1:12", "U+0001"),
        (_written(version=True), "26:14", "version must be the integer 1, found boolean true"),
        (_written(version=1.0), "26:14", "found number 1.0"),
        (_written(version="1"), "26:14", "found string '1'"),
        (_written(version=2), "26:14", "another version"),
        (_written(extra=1), "26:3", "unknown key 'extra'"),
        (_written(base="x"), "2:11", "base 'x' is not"),
        (_written(name=None), "4:5", "components[0]: missing 'name'"),
        (_written(name=7), "6:15", "components[0].name must be a string, found number 7"),
        (_written(commit="abc123"), "5:17", "not a full commit id"),
        (_written(ref="--upload-pack=x"), "7:14", "starts with '-'"),
        (_written(resolved="--upload-pack=x"), "8:19", "starts with '-'"),
        (_written(resolved="refs/heads/other"), "8:19", "resolves to refs/heads/release-1"),
        (_written(type="svn"), "9:15", "type of a must be 'dist-git' or 'git'"),
        (_written(url="ssh://-oProxyCommand=x/a"), "10:14", "host starting with '-'"),
        (_written(url="https://user:secret@[::1/a"), "10:14", "https://***@[::1/a"),
        (_written(surprise="x"), "9:7", "unknown key 'surprise'"),
        (_written(spec_source={"url": "https://x/a.git", "ref": "m", "commit": "1" * 40, "x": 1}), "13:9",
         "unknown key 'x'"),
        (_written(spec_source=[]), "9:22", "spec_source of a must be an object"),
    ],
)
def test_bad_locks_are_located_errors(tmp_path: Path, content: str, where: str, words: str) -> None:
    path = tmp_path / "s.lock"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(LockError) as info:
        read_lock(str(path))
    assert str(info.value).startswith(f"{path}:{where}: "), str(info.value)
    assert words in str(info.value) and "secret" not in str(info.value)


def test_a_component_locked_twice_is_refused(tmp_path: Path) -> None:
    data = _lock().to_json()
    data["components"][1] = dict(data["components"][0])
    path = tmp_path / "s.lock"
    path.write_text(json.dumps(data, indent=2, sort_keys=True))
    with pytest.raises(LockError, match=r"component 'a' is locked twice \(first at .*s.lock:4:5\)") as info:
        read_lock(str(path))
    assert str(info.value).startswith(f"{path}:14:15: ")  # the second one's name


def test_invalid_utf8_in_a_lock_is_located(tmp_path: Path) -> None:
    path = tmp_path / "s.lock"
    path.write_bytes(_written().encode().replace(b"release-2", b"release-\xff"))
    with pytest.raises(LockError) as info:
        read_lock(str(path))
    assert f"{path}:" in str(info.value) and "not valid UTF-8: byte 0xff" in str(info.value)


def test_read_existing_sets_a_corrupt_lock_aside_only_when_replacing(tmp_path: Path, capsys) -> None:
    path = tmp_path / "s.lock"
    assert read_existing(str(path)) is None
    path.write_text('{"version": true}')
    with pytest.raises(LockError, match="run 'stream-build lock' to write a new lock"):
        read_existing(str(path))
    assert path.exists()
    assert read_existing(str(path), replace_corrupt=True) is None
    assert not path.exists() and (tmp_path / "s.lock.corrupt").read_text() == '{"version": true}'
    path.write_text("{")
    assert read_existing(str(path), replace_corrupt=True) is None
    assert (tmp_path / "s.lock.corrupt.1").read_text() == "{"
    assert "kept the unreadable lock as" in capsys.readouterr().err


def test_missing_lock(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="run 'stream-build lock' first"):
        read_lock(str(tmp_path / "none.lock"))
