"""Release-series names, upstream series discovery from refs and specs (no network: refs are given)."""

from __future__ import annotations

import pytest

from streambuild.branches import (SeriesConvention, check_upstream, describe_branches, known_series, ref_versions,
                                  series_refs, spec_upstream_urls)
from streambuild.errors import InputError, UnsafeValueError

TORCH_REFS = {
    "HEAD": "a" * 40,
    "refs/heads/main": "a" * 40,
    "refs/heads/release/2.10": "b" * 40,
    "refs/tags/v2.10.0": "b" * 40,
    "refs/tags/v2.10.1": "c" * 40,
    "refs/tags/v2.11.0-rc1": "d" * 40,
    "refs/tags/v2.1.0": "e" * 40,
    "refs/pull/7/head": "f" * 40,
}


@pytest.mark.parametrize("value, branch, series", [
    ("release-3.11", "release-3.11", "3.11"),
    ("3.11", "release-3.11", "3.11"),
    ("release-2", "release-2", "2"),
    ("release-1.2.3", "release-1.2.3", "1.2.3"),
])
def test_series_names(value, branch, series):
    assert SeriesConvention().parse(value) == (branch, series)


@pytest.mark.parametrize("value, words", [
    ("f44", "one of Fedora's own branch names"),
    ("rawhide", "one of Fedora's own branch names"),
    ("main", "one of Fedora's own branch names"),
    ("epel9", "one of Fedora's own branch names"),
    ("release-", "is not a release-series branch name"),
    ("release-3.x", "is not a release-series branch name"),
    ("stable-3.11", "expected 'release-{series}'"),
])
def test_not_release_series(value, words):
    with pytest.raises(InputError) as info:
        SeriesConvention().parse(value)
    assert words in str(info.value) and "release-3.11" in str(info.value)


@pytest.mark.parametrize("value", ["--upload-pack=touch x", "release-3.11;id", "$(id)", "release 3.11", "a..b",
                                   "release-3.11\n", "-b"])
def test_series_with_option_or_shell_characters_is_unsafe(value):
    with pytest.raises(UnsafeValueError, match="series"):
        SeriesConvention().parse(value)


def test_a_custom_convention():
    convention = SeriesConvention("stream/{series}")
    assert convention.parse("3.12") == ("stream/3.12", "3.12")
    assert convention.series("stream/3.12") == "3.12"
    assert convention.series("release-3.12") is None
    with pytest.raises(InputError, match="expected 'stream/{series}'"):
        convention.parse("release-3.12")


def test_versions_in_ref_names():
    assert ref_versions("refs/tags/v3.11.9") == ["3.11.9"]
    assert ref_versions("refs/heads/releases/v0.20.0") == ["0.20.0"]
    assert ref_versions("refs/heads/release-3.11") == ["3.11"]
    assert ref_versions("refs/tags/v2.12.0rc1") == ["2.12.0"]  # 'rc1' is not a version
    assert ref_versions("refs/heads/python3.11-fixes") == []  # a name, not a release


def test_series_refs_match_whole_version_parts():
    assert series_refs(TORCH_REFS, "2.10") == ["refs/heads/release/2.10", "refs/tags/v2.10.0", "refs/tags/v2.10.1"]
    assert series_refs(TORCH_REFS, "2.11") == ["refs/tags/v2.11.0-rc1"]
    assert series_refs(TORCH_REFS, "2.1") == ["refs/tags/v2.1.0"]  # not 2.10 or 2.11
    assert series_refs(TORCH_REFS, "2") == ["refs/heads/release/2.10", "refs/tags/v2.1.0", "refs/tags/v2.10.0",
                                            "refs/tags/v2.10.1", "refs/tags/v2.11.0-rc1"]
    assert series_refs(TORCH_REFS, "9.99") == []


def test_known_series_newest_first():
    assert known_series(TORCH_REFS, 2) == ["2.11", "2.10", "2.1"]
    assert known_series(TORCH_REFS, 1) == ["2"]


def test_check_upstream_says_what_it_looked_for_and_found():
    found = check_upstream("https://github.com/pytorch/pytorch.git", "2.10", TORCH_REFS)
    assert found.refs == ("refs/heads/release/2.10", "refs/tags/v2.10.0", "refs/tags/v2.10.1")
    with pytest.raises(InputError) as info:
        check_upstream("https://github.com/pytorch/pytorch.git", "9.99", TORCH_REFS)
    message = str(info.value)
    assert "has no release of series 9.99" in message
    assert "looked for tags or branches naming version 9.99 or 9.99.*" in message
    assert "found series: 2.11, 2.10, 2.1" in message


SPEC = """\
%global srcname torch
Name:           python-%{srcname}
Version:        2.11.0
URL:            https://pytorch.org/
Source0:        https://github.com/pytorch/pytorch/releases/download/v%{version}/pytorch-v%{version}.tar.gz
"""


def test_upstream_urls_from_a_spec():
    assert spec_upstream_urls(SPEC, "python-torch") == ["https://github.com/pytorch/pytorch.git", "https://pytorch.org/"]
    hosted_url = "Name: vllm\nURL: https://github.com/vllm-project/%{name}\nSource0: %{url}/archive/v1.tar.gz\n"
    assert spec_upstream_urls(hosted_url, "vllm")[0] == "https://github.com/vllm-project/vllm.git"
    plain = "Name: tinytorch\nURL: git://127.0.0.1:9418/upstream/tinytorch\n"
    assert spec_upstream_urls(plain, "tinytorch") == ["git://127.0.0.1:9418/upstream/tinytorch"]
    # nothing usable, and nothing unsafe passes
    assert spec_upstream_urls("Name: x\nURL: --upload-pack=evil\nSource0: x-1.tar.gz\n", "x") == []


def test_describe_branches_puts_series_first_newest_first():
    rows = describe_branches(["rawhide", "release-3.9", "f44", "release-3.12", "release-3.11"], SeriesConvention())
    assert [r["branch"] for r in rows] == ["release-3.12", "release-3.11", "release-3.9", "f44", "rawhide"]
    assert rows[0]["series"] == "3.12" and rows[-1]["series"] is None


def test_forge_types_are_plugins(tmp_path):
    from streambuild import forgeconfig
    from streambuild.forges import make_forge
    from streambuild.plugins import hookimpl, make_plugins

    class Gitea:
        def __init__(self, settings, http):
            self.settings, self.http = settings, http

    class Plugin:
        @hookimpl
        def streambuild_register(self, registry):
            registry.add_forge("gitea", Gitea)

    plugins = make_plugins(extra=[Plugin()], load_entry_points=False)
    assert set(plugins.registry.forges) == {"pagure", "forgejo", "git", "gitea"}
    path = tmp_path / "f.toml"
    path.write_text('[forges.mine]\ntype = "gitea"\nurl = "https://gitea.example"\n[http]\nretries = 1\n')
    config = forgeconfig.load(str(path))
    forge = make_forge(plugins, config.forge("mine"), config.http)
    assert isinstance(forge, Gitea) and forge.settings.url == "https://gitea.example" and forge.http.retries == 1
    with pytest.raises(InputError, match="unknown forge type 'gitea'"):
        make_forge(make_plugins(load_entry_points=False), config.forge("mine"), config.http)
