"""git over a real git daemon: resolving, fetching by commit, refusing option-like values."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import add_package
from streambuild import gitops
from streambuild.errors import SourceError, UnsafeValueError

pytestmark = pytest.mark.integration


def test_resolve_branch_tag_and_commit(forge):
    url = forge.upstream_url + "tinyllm"
    tag = gitops.resolve(url, "v0.20.0")
    branch = gitops.resolve(url, "releases/v0.20.0")
    assert tag.full_ref == "refs/tags/v0.20.0" and branch.full_ref == "refs/heads/releases/v0.20.0"
    assert tag.commit == branch.commit  # the annotated tag is peeled to its commit
    assert gitops.resolve(url, tag.commit).commit == tag.commit
    with pytest.raises(SourceError, match="has no branch or tag 'v9'.*branches: main, releases/v0.20.0"):
        gitops.resolve(url, "v9")


@pytest.mark.parametrize("ref", ["--upload-pack=touch /tmp/stream-build-pwned", "$(touch /tmp/stream-build-pwned)"])
def test_option_and_shell_refs_never_reach_git(forge, ref):
    with pytest.raises(UnsafeValueError):
        gitops.resolve(forge.distgit_url + "tinytorch.git", ref)
    assert not Path("/tmp/stream-build-pwned").exists()


def test_option_like_urls_are_refused():
    for url in ("--upload-pack=touch /tmp/stream-build-pwned", "ext::sh -c touch% /tmp/stream-build-pwned"):
        with pytest.raises(UnsafeValueError):
            gitops.ls_remote(url)
    assert not Path("/tmp/stream-build-pwned").exists()


def test_fetch_export_and_force_pushed_commits(forge, tmp_path):
    first = add_package(forge, "moving", "main", {"moving.spec": "Name: moving\n"})
    url = forge.distgit_url + "moving.git"
    cache = str(tmp_path / "cache")
    git_dir = gitops.fetch_commit(cache, url, first, "refs/heads/main")
    gitops.export_tree(git_dir, first, str(tmp_path / "tree"))
    assert (tmp_path / "tree" / "moving.spec").read_text() == "Name: moving\n"
    assert gitops.branches_containing(git_dir, first) == ["main"]
    # a force-push replaces the branch: the old commit is then on no branch (git protocol v2 may
    # still serve it by id, which is why reachability is checked separately)
    add_package(forge, "moving", "main", {"moving.spec": "Name: moving\nVersion: 2\n"})
    other = gitops.fetch_commit(str(tmp_path / "other-cache"), url, first, "refs/heads/main")
    assert gitops.branches_containing(other, first) == []
    with pytest.raises(SourceError, match="does not have commit"):
        gitops.fetch_commit(str(tmp_path / "other-cache"), url, "f" * 40, "refs/heads/main")


def test_unreachable_repository(tmp_path):
    with pytest.raises(SourceError, match="listing git://127.0.0.1:9/x.git"):
        gitops.ls_remote("git://127.0.0.1:9/x.git")
