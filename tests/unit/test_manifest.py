"""The manifest: the seed accepted verbatim, both component forms, and every rejection with its place."""

from __future__ import annotations

from pathlib import Path

import pytest

from streambuild.errors import ManifestError, ManifestErrors, UnsafeValueError
from streambuild.manifest import FEDORA_DIST_GIT, FEDORA_LOOKASIDE, load_manifest, parse_manifest

SEED = Path(__file__).parents[1] / "data" / "seed.yaml"


def test_seed_from_design_is_accepted_verbatim() -> None:
    m = load_manifest(str(SEED))
    assert m.base.name == "fedora-44-x86_64"
    assert [(c.name, c.ref, c.source_type) for c in m.components] == [
        ("python3.11", "release-3.11", "dist-git"),
        ("python-torch", "release-2.11", "dist-git"),
        ("vllm", "releases/v0.20.0", "git"),
    ]
    assert m.components[0].repo_url == "https://src.fedoraproject.org/rpms/python3.11.git"
    assert m.components[0].lookaside == FEDORA_LOOKASIDE
    assert m.components[2].repo_url == "https://github.com/vllm-project/vllm"
    assert m.components[2].distgit_repo_url == FEDORA_DIST_GIT + "vllm.git"
    assert m.install is not None and m.install.type == "container"
    assert m.install.packages == ("vllm",) and m.install.registry == "quay.io/vllm"


def test_long_form_and_macros() -> None:
    m = parse_manifest(
        """
base: fedora-rawhide-aarch64
macros: {with_cuda: 0}
build:
- type: dist-git
  url: file:///srv/rpms
  lookaside: http://127.0.0.1:1/
  packages:
  - name: cython
    ref: release-3.1
    buildonly: true
    macros: {_with_bootstrap: 1}
  - python3.11:release-3.11
""",
        "m.yaml",
    )
    from streambuild.base import rawhide_version

    assert m.base.version == rawhide_version() and m.base.dist == f".fc{rawhide_version()}"  # see test_base.py
    assert m.macros == (("with_cuda", "0"),)
    cython = m.component("cython")
    assert cython.buildonly and cython.macros == (("_with_bootstrap", "1"),)
    assert cython.repo_url == "file:///srv/rpms/cython.git"
    assert m.name == "m"


def _error(text: str) -> ManifestError:
    with pytest.raises(ManifestError) as info:
        parse_manifest(text, "stream.yaml")
    return info.value


HEAD = "base: fedora-44-x86_64\nbuild:\n- type: dist-git\n  url: https://example.org/rpms/\n  packages:\n"


@pytest.mark.parametrize(
    "text, where, words",
    [
        ("base: [\n", "stream.yaml:2:1", "not valid YAML"),
        ("", "stream.yaml:1:1", "empty"),
        ("base: 44\nbuild: []\n", "stream.yaml:1:7", "expected string"),
        ("base: fedora-44-x86_64\nbuild: []\n", "stream.yaml:2:8", "at least 1"),
        ("base: fedora-44-x86_64\n", "stream.yaml:1:1", "missing required key 'build'"),
        ("base: fedora-44-x86_64\nbiuld: []\nbuild: []\n", "stream.yaml:2:1", "unknown key 'biuld'"),
        (HEAD + "  - a:b\n  extra: 1\n", "stream.yaml:7:3", "unknown key 'extra'"),
        (HEAD + "  - a:b\n  - a:c\n", "stream.yaml:7:5", "listed twice"),
        (HEAD + "  - {name: a, ref: b, buildonly: yes-please}\n", "stream.yaml:6:34", "expected boolean"),
        (HEAD + "  - {name: a}\n", "stream.yaml:6:5", "missing required key 'ref'"),
        (HEAD + "  - 12\n", "stream.yaml:6:5", "expected string or object"),
        ("base: fedora-44-x86_64\nbase: fedora-43-x86_64\nbuild: []\n", "stream.yaml:2:1", "duplicate key"),
        ("base: debian-12-amd64\nbuild: [{type: git, url: 'file:///x', packages: [a:b]}]\n", "stream.yaml:1:7", "distro"),
        (HEAD.replace("dist-git", "svn") + "  - a:b\n", "stream.yaml:3:9", "'svn' is not one of"),
        (HEAD + "  - a:b\ninstall: {type: installroot, packages: [a], tag: x}\n", "stream.yaml:7:45", "does not apply"),
    ],
)
def test_rejections_name_the_place(text: str, where: str, words: str) -> None:
    error = _error(text)
    assert str(error).startswith(where + ": "), str(error)
    assert words in str(error)


@pytest.mark.parametrize(
    "item",
    [
        "'a:--upload-pack=touch /tmp/x'",
        "'a:$(id)'",
        "'a:../../etc'",
        "'a:`id`'",
        "'a:-b'",
        "{name: '--upload-pack=x', ref: main}",
        "{name: 'a/b', ref: main}",
        "{name: \"a\\nb\", ref: main}",
        "{name: '../../etc', ref: main}",
        "{name: a, ref: \"main\\n\"}",
        "{name: a, ref: 'x;rm -rf /'}",
    ],
)
def test_unsafe_names_and_refs_are_refused(item: str) -> None:
    with pytest.raises(UnsafeValueError) as info:
        parse_manifest(HEAD + f"  - {item}\n", "stream.yaml")
    assert str(info.value).startswith("stream.yaml:6:")


@pytest.mark.parametrize("url", ["ext::sh -c id", "--upload-pack=x", "https://", "/relative/path", "file:relative"])
def test_unsafe_urls_are_refused(url: str) -> None:
    with pytest.raises(UnsafeValueError) as info:
        parse_manifest(HEAD.replace("https://example.org/rpms/", repr(url)) + "  - a:b\n", "stream.yaml")
    assert "stream.yaml:4:" in str(info.value)


def test_digest_changes_with_what_is_built() -> None:
    one = parse_manifest(HEAD + "  - a:b\n")
    two = parse_manifest(HEAD + "  - a:c\n")
    same = parse_manifest(HEAD + "  - a:b\ninstall: {type: host, packages: [a]}\n")
    assert one.digest() != two.digest()
    assert one.digest() == same.digest()


def test_every_problem_is_reported_together_with_near_misses() -> None:
    text = ("base: fedora-44-x86_64\nbuild:\n- type: dist-gti\n  url: https://x/\n  pakages: [a:b]\n"
            "- type: git\n  url: https://y/\n  packages: ['c:--upload-pack=x', 'd/e:main']\ninstal: {type: host}\n")
    with pytest.raises(ManifestErrors) as err:
        parse_manifest(text, "s.yaml")
    assert str(err.value).splitlines() == [
        "s.yaml:3:9: build[0].type: 'dist-gti' is not one of 'dist-git', 'git' (did you mean 'dist-git'?)",
        "s.yaml:5:3: build[0]: unknown key 'pakages' (did you mean 'packages'? it is required) "
        "(expected one of: type, url, lookaside, packages)",
        "s.yaml:9:1: the document: unknown key 'instal' (did you mean 'install'?) "
        "(expected one of: name, base, macros, base_repos, build, install)",
    ]
    # the shape is right: what the values say, all at once (a missing key nothing was meant for is said too)
    with pytest.raises(ManifestErrors) as values_err:
        parse_manifest(text.replace("dist-gti", "dist-git").replace("pakages", "packages").replace("instal:", "name: a\n#"),
                       "s.yaml")
    lines = str(values_err.value).splitlines()
    assert len(lines) == 2 and "s.yaml:8:14: ref of c" in lines[0] and "s.yaml:8:35: package name 'd/e'" in lines[1]
    with pytest.raises(ManifestError, match="missing required key 'packages'"):
        parse_manifest("base: fedora-44-x86_64\nbuild:\n- type: git\n  url: https://y/\n", "s.yaml")
