"""git over a real git daemon: resolving, fetching by commit, refusing option-like values."""

from __future__ import annotations

import os
import subprocess
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


def _git(*args: str, cwd: Path, stdin: bytes = b"") -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", *args], cwd=cwd, env=env, input=stdin, check=True, capture_output=True).stdout.decode().strip()


def _local_repo(tmp_path: Path, files: dict, attributes: str = "") -> "tuple[Path, str]":
    """A bare repository on disk with one commit on ``main`` (a file, an executable, a link, a directory)."""
    work = tmp_path / "work"
    work.mkdir()
    _git("init", "-q", "-b", "main", cwd=work)
    for path, text in files.items():
        (work / path).parent.mkdir(parents=True, exist_ok=True)
        (work / path).write_text(text)
    (work / "run.sh").write_text("#!/bin/sh\n")
    (work / "run.sh").chmod(0o755)
    os.symlink("pkg.spec", work / "link.spec")
    if attributes:
        (work / ".gitattributes").write_text(attributes)
    _git("add", "-A", cwd=work)
    _git("commit", "-q", "-m", "one", cwd=work)
    _git("tag", "-a", "-m", "annotated", "v1", cwd=work)
    bare = tmp_path / "pkg.git"
    _git("clone", "-q", "--bare", str(work), str(bare), cwd=tmp_path)
    return bare, _git("rev-parse", "HEAD", cwd=work)


def _tree(root: Path) -> dict:
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            out[rel] = ("dir", oct(path.stat().st_mode & 0o777), int(path.stat().st_mtime))
        else:
            out[rel] = ("file", path.read_bytes(), oct(path.stat().st_mode & 0o777), int(path.stat().st_mtime))
    return out


def test_a_local_repository_is_read_in_place_and_its_tree_written_as_git_archive_writes_it(tmp_path):
    bare, commit = _local_repo(tmp_path, {"pkg.spec": "Name: pkg\n", "tests/tests.yml": "- t\n", "sources": ""})
    url = f"file://{bare}"
    assert gitops.local_repository(url) == str(bare)
    assert gitops.resolve(url, "main") == gitops.resolve(url, "main", gitops.ls_remote(url))
    assert gitops.resolve(url, "v1") == gitops.resolve(url, "v1", gitops.ls_remote(url))  # the tag peeled
    assert gitops.resolve(url, "v1").commit == commit
    with pytest.raises(SourceError, match="has no branch or tag 'nope'.*branches: main"):
        gitops.resolve(url, "nope")
    cache = tmp_path / "cache"
    with gitops.source_reader(str(cache), url, commit, "refs/heads/main") as reader:
        reader.export(commit, str(tmp_path / "ours"))
    assert not cache.exists()  # nothing fetched, no mirror made
    gitops.export_tree(str(bare), commit, str(tmp_path / "archive"))
    ours, theirs = _tree(tmp_path / "ours"), _tree(tmp_path / "archive")
    assert ours == theirs and ours["run.sh"][2] == "0o775" and ours["link.spec"] == ("link", "pkg.spec")
    assert gitops.current_refs(url, ["refs/heads/main", "refs/tags/v1", "refs/heads/gone"]) == {
        "refs/heads/main": commit, "refs/tags/v1": commit}


def test_export_attributes_are_left_to_git_archive(tmp_path):
    bare, commit = _local_repo(tmp_path, {"pkg.spec": "Name: pkg\n", "secret": "x\n"}, "secret export-ignore\n")
    with gitops.source_reader(str(tmp_path / "cache"), f"file://{bare}", commit) as reader:
        reader.export(commit, str(tmp_path / "ours"))
    assert (tmp_path / "ours" / "pkg.spec").exists() and not (tmp_path / "ours" / "secret").exists()


def test_a_tree_entry_that_climbs_out_is_refused(tmp_path):
    bare, _commit = _local_repo(tmp_path, {"pkg.spec": "Name: pkg\n"})
    blob = _git("hash-object", "-w", "--stdin", cwd=bare, stdin=b"evil\n")
    tree = _git("hash-object", "-w", "-t", "tree", "--literally", "--stdin", cwd=bare,
                stdin=b"100644 ..\0" + bytes.fromhex(blob))
    bad = _git("commit-tree", "-m", "evil", tree, cwd=bare)
    with gitops.source_reader(str(tmp_path / "cache"), f"file://{bare}", bad) as reader:
        with pytest.raises(SourceError, match="refusing tree entry '..'"):
            reader.export(bad, str(tmp_path / "out"))


def test_a_remote_repository_is_fetched_shallow_and_only_the_locked_ref(forge, tmp_path):
    first = add_package(forge, "shallow", "main", {"shallow.spec": "Name: shallow\n"})
    second = add_package(forge, "shallow", "main", {"shallow.spec": "Name: shallow\nVersion: 2\n"})
    add_package(forge, "shallow", "other", {"shallow.spec": "Name: other\n"})
    url = forge.distgit_url + "shallow.git"
    assert gitops.local_repository(url) is None
    cache = str(tmp_path / "cache")
    with gitops.source_reader(cache, url, second, "refs/heads/main") as reader:
        reader.export(second, str(tmp_path / "tree"))
    assert (tmp_path / "tree" / "shallow.spec").read_text() == "Name: shallow\nVersion: 2\n"
    mirror = Path(gitops.source_mirror_path(cache, url))
    assert (mirror / "shallow").read_text().strip() == second  # depth 1
    refs = _git("for-each-ref", "--format=%(refname)", cwd=mirror)
    assert refs == "refs/heads/main"  # not every branch and tag
    # the lock says an older commit of the branch (it moved since): fetched by its id
    with gitops.source_reader(cache, url, first, "refs/heads/main") as reader:
        assert reader.has_commit(first)
    # gone from the remote: said so
    with pytest.raises(SourceError, match="does not have commit"):
        gitops.source_reader(cache, url, "e" * 40, "refs/heads/main")


def test_a_locked_branch_deleted_since_is_no_obstacle_while_another_holds_the_commit(forge, tmp_path):
    commit = add_package(forge, "gone", "old-branch", {"gone.spec": "Name: gone\n"})
    bare = forge.layout.repo("gone")
    _git("branch", "kept", commit, cwd=bare)
    _git("branch", "-D", "old-branch", cwd=bare)
    with gitops.source_reader(str(tmp_path / "cache"), forge.distgit_url + "gone.git", commit,
                              "refs/heads/old-branch") as reader:
        assert reader.has_commit(commit)


def test_git_daemon_is_listed_in_protocol_0_with_the_refs_protocol_2_lists(forge, monkeypatch, tmp_path):
    url = forge.upstream_url + "tinyllm"
    v2 = subprocess.run(["git", "-c", "protocol.version=2", "ls-remote", url], capture_output=True, text=True,
                        check=True).stdout
    trace = tmp_path / "packets"
    monkeypatch.setenv("GIT_TRACE_PACKET", str(trace))  # git's own record of what it said on the wire
    refs = gitops.ls_remote(url)
    assert "version 2" not in trace.read_text() and "refs/tags/v0.20.0" in trace.read_text()
    expected = {}
    for line in v2.splitlines():
        oid, name = line.split("\t")
        if name.endswith("^{}") or name not in expected:
            expected[name[:-3] if name.endswith("^{}") else name] = oid
    assert refs == expected and "refs/tags/v0.20.0" in refs
    trace.unlink()
    gitops.fetch_commit(str(tmp_path / "cache"), url, refs["refs/tags/v0.20.0"], "refs/tags/v0.20.0")
    assert "version 2" in trace.read_text()  # a fetch stays on protocol 2: a commit by id is fetched there
