"""The manifest kept in the work directory: the same manifest, read without YAML, and never a forged value."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from streambuild import manifestcache
from streambuild.errors import InputError
from streambuild.manifest import load_manifest

MANIFEST = """\
name: mixed
base: fedora-rawhide-aarch64
macros: {with_cuda: 0}
base_repos: [file:///srv/base/]
build:
- type: dist-git
  url: file:///srv/rpms
  lookaside: http://127.0.0.1:1/
  packages:
  - name: cython
    ref: release-3.1
    buildonly: true
    spec: cython.spec
    macros: {_with_bootstrap: 1}
  - python3.11:release-3.11
- type: git
  url: https://forge.example/upstream/
  packages:
  - name: vllm
    ref: v0.20.0
    version: 0.20.0
    distgit_ref: f44
    replaces: true
install:
  type: installroot
  path: ./root
  packages: [vllm, python3.11]
"""


@pytest.fixture
def stream(tmp_path: Path) -> Path:
    (tmp_path / ".stream-build").mkdir()
    path = tmp_path / "stream-build.yaml"
    path.write_text(MANIFEST)
    return path


def _load(path: Path) -> Any:
    return manifestcache.load_manifest(str(path), str(path.parent / ".stream-build"))


def _from_yaml_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(data: bytes, path: str) -> None:
        raise AssertionError("read from YAML")

    monkeypatch.setattr(manifestcache, "manifest_from_bytes", refuse)


def test_an_unchanged_manifest_is_read_back_the_same_without_yaml(stream: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = _load(stream)
    assert first == load_manifest(str(stream))
    assert (stream.parent / ".stream-build" / manifestcache.FILE).exists()
    _from_yaml_refused(monkeypatch)
    again = _load(stream)
    assert again == first
    assert [c.location for c in again.components] == [c.location for c in first.components]
    assert str(again.component("vllm").location) == f"{stream}:19:5"
    assert again.digest() == first.digest() and again.install == first.install and again.base == first.base


def test_a_changed_manifest_or_another_place_is_read_from_its_yaml(stream: Path) -> None:
    _load(stream)
    stream.write_text(MANIFEST.replace("release-3.11", "release-3.12"))
    assert _load(stream).component("python3.11").ref == "release-3.12"
    elsewhere = stream.parent / "copy.yaml"
    elsewhere.write_text(stream.read_text())
    kept = manifestcache.load(str(stream.parent / ".stream-build" / manifestcache.FILE),
                              manifestcache.manifest_key(str(elsewhere), elsewhere.read_bytes()), str(elsewhere))
    assert kept is None  # the key holds the manifest's place: its relative paths mean something else there


def test_the_reading_code_is_in_the_key(stream: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = manifestcache.manifest_key(str(stream), stream.read_bytes())
    monkeypatch.setattr(manifestcache, "_READER", manifestcache._READER[:-1])
    assert manifestcache.manifest_key(str(stream), stream.read_bytes()) != before


def _forge(stream: Path, change: Callable[[Any], None]) -> None:
    _load(stream)
    path = stream.parent / ".stream-build" / manifestcache.FILE
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("change", [
    lambda d: d["components"][0].__setitem__(1, "--upload-pack=touch /tmp/x"),  # a ref
    lambda d: d["components"][0].__setitem__(0, "-x"),  # a name
    lambda d: d["components"][0].__setitem__(3, "ext::sh -c touch% /tmp/x/"),  # a URL
    lambda d: d["components"][0].__setitem__(3, "https://forge.example/no-slash"),
    lambda d: d["components"][0].__setitem__(6, "%{lua: os.execute('touch /tmp/x')}"),  # a spec path
    lambda d: d["components"][0].__setitem__(7, [["_with_bootstrap", "1\n%define x %(touch /tmp/x)"]]),
    lambda d: d["components"][0].__setitem__(7, [["%(id)", "1"]]),  # a macro name
    lambda d: d["components"][0].__setitem__(4, "yes"),  # buildonly not a boolean
    lambda d: d["components"][0].__setitem__(2, "svn"),
    lambda d: d["components"][0].__setitem__(12, "1"),  # a line that is not a number
    lambda d: d["components"][0].pop(),
    lambda d: d["install"].__setitem__(2, "/root/%(id)"),  # the install path
    lambda d: d["install"].__setitem__(1, ["vllm;rm"]),
    lambda d: d["install"].__setitem__(0, "chroot"),
    lambda d: d.update(base_repos=["ext::sh"]),
    lambda d: d.update(base="fedora-44-sparc"),
    lambda d: d.update(name="../x"),
    lambda d: d.update(macros=[["with_cuda", 0]]),  # a macro value not a string
    lambda d: d.update(version=0),
    lambda d: d.update(key="another"),
])
def test_a_forged_or_damaged_file_is_a_miss(stream: Path, change: Callable[[Any], None]) -> None:
    _forge(stream, change)
    kept = stream.parent / ".stream-build" / manifestcache.FILE
    key = manifestcache.manifest_key(str(stream), stream.read_bytes())
    assert manifestcache.load(str(kept), key, str(stream)) is None
    assert _load(stream) == load_manifest(str(stream))  # read from its YAML (and kept again)
    assert manifestcache.load(str(kept), key, str(stream)) == load_manifest(str(stream))


def test_a_file_cut_short_is_a_miss(stream: Path) -> None:
    _load(stream)
    kept = stream.parent / ".stream-build" / manifestcache.FILE
    kept.write_bytes(kept.read_bytes()[:50])
    assert _load(stream) == load_manifest(str(stream))


def test_no_work_directory_is_made_to_keep_it(tmp_path: Path) -> None:
    path = tmp_path / "stream-build.yaml"
    path.write_text(MANIFEST)
    assert _load(path) == load_manifest(str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stream-build.yaml"]


def test_a_bad_manifest_is_kept_nowhere_and_located_as_ever(stream: Path) -> None:
    stream.write_text(MANIFEST.replace("ref: v0.20.0", "ref: --upload-pack=x"))
    with pytest.raises(InputError) as info:
        _load(stream)
    assert str(info.value.location) == f"{stream}:20:10"
    assert not (stream.parent / ".stream-build" / manifestcache.FILE).exists()
