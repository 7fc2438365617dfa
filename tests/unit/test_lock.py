from __future__ import annotations

import json
from pathlib import Path

import pytest

from streambuild.errors import LockError
from streambuild.lock import Lock, LockedComponent, SpecSource, check_matches, differences, read_lock, write_lock
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


@pytest.mark.parametrize(
    "content, words",
    [
        ("{", "not valid JSON"),
        ("[]", "not a stream-build lock"),
        ('{"version": 1, "base": "x", "components": [{"name": "a"}]}', "needs string fields"),
        ('{"version": 1, "base": "x", "components": [{"name": "a", "type": "dist-git", "url": "https://x/a.git",'
         ' "ref": "main", "resolved": "refs/heads/main", "commit": "abc123"}]}', "not a full commit id"),
        ('{"version": 1, "base": "x", "components": [{"name": "a", "type": "dist-git", "url": "https://x/a.git",'
         ' "ref": "--upload-pack=x", "resolved": "r", "commit": "' + "1" * 40 + '"}]}', "starts with '-'"),
        ('{"version": 1, "base": "x", "components": [{"name": "a", "type": "svn", "url": "https://x/a.git",'
         ' "ref": "main", "resolved": "r", "commit": "' + "1" * 40 + '"}]}', "type must be"),
    ],
)
def test_bad_locks(tmp_path: Path, content: str, words: str) -> None:
    path = tmp_path / "s.lock"
    path.write_text(content)
    with pytest.raises(LockError) as info:
        read_lock(str(path))
    assert words in str(info.value) and str(path) in str(info.value)


def test_missing_lock(tmp_path: Path) -> None:
    with pytest.raises(LockError, match="run 'stream-build lock' first"):
        read_lock(str(tmp_path / "none.lock"))
