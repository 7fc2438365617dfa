"""``fedpkg-stream`` on the real ``rpkg`` from PyPI, in real clones of the example's dist-git.

fedpkg itself is not installable here (it is not on PyPI), so the launcher subclasses
rpkg's ``cliClient`` (the same class fedpkg's client derives from). rpkg is configured
with an rpkg.conf pointing at the loopback forge, so rpkg's own commands (``sources``)
really download from its lookaside.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import pytest

import localforge
from conftest import ROOT, Result, add_package, cli, manifest, needs_rpm

pytest.importorskip("pyrpkg", reason="needs rpkg from PyPI (pip install rpkg; the test extra has it)")

pytestmark = [pytest.mark.integration, needs_rpm]

GIT_ENV = {"GIT_AUTHOR_NAME": "Packager", "GIT_AUTHOR_EMAIL": "p@example.invalid",
           "GIT_COMMITTER_NAME": "Packager", "GIT_COMMITTER_EMAIL": "p@example.invalid"}


def fedpkg(*args: str, cwd: Path, conf: Path, script: bool = False) -> Result:
    """Run ``fedpkg-stream`` (the console script, or plugins/fedpkg_stream.py as a script)."""
    launcher = [sys.executable, str(ROOT / "plugins" / "fedpkg_stream.py")] if script else \
        [sys.executable, "-c", "from streambuild.fedpkg_stream import main; main()"]
    proc = subprocess.run([*launcher, "-C", str(conf), *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=300, env={**os.environ, **GIT_ENV})
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def git(*args: str, cwd: Path) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    top = tmp_path_factory.mktemp("fedpkg")
    with localforge.LocalForge(top / "forge") as forge:
        conf = top / "rpkg.conf"
        conf.write_text(
            "[rpkg]\n"
            f"lookaside = {forge.lookaside_url.rstrip('/')}\n"
            "lookasidehash = sha512\n"
            f"lookaside_cgi = {forge.lookaside_url}upload.cgi\n"
            f"gitbaseurl = {forge.distgit_url}%(repo)s.git\n"
            f"anongiturl = {forge.distgit_url}%(repo)s.git\n"
            "branchre = release-.*\n"
            "kojiprofile = koji\n"
            "build_client = koji\n"
        )
        yield {"forge": forge, "conf": conf, "top": top}


def clone(served: dict, where: Path, name: str, branch: str) -> Path:
    git("clone", "-q", "-b", branch, f"{served['forge'].distgit_url}{name}.git", str(where), cwd=where.parent)
    return where


def test_stream_build_builds_the_set_with_the_checkouts_commit(served, tmp_path):
    forge = served["forge"]
    checkout = clone(served, tmp_path / "tinytorch", "tinytorch", "release-2.11")
    mine = git("rev-parse", "HEAD", cwd=checkout)
    head = forge.add_commit("tinytorch", "release-2.11", {"README.later": "later\n"}, "a later commit")  # the branch moves on
    m = forge.write_manifest(tmp_path / "set" / "stream-build.yaml")

    out = fedpkg("stream-build", "--manifest", str(m), "--json", cwd=checkout, conf=served["conf"], script=True)
    assert out.code == 0, out.stderr
    assert "stream-build: warning: tinytorch: commit-rights: " in out.stderr  # the policy's warnings, as everywhere
    summary = [json.loads(l) for l in out.stdout.splitlines() if l.startswith('{"event": "summary"')][0]
    assert {c["name"]: c["state"] for c in summary["components"]} == {
        "tinypython3.11": "done", "tinytorch": "done", "tinyllm": "done"}
    locked = {c["name"]: c["commit"] for c in json.loads((tmp_path / "set" / "stream-build.lock").read_text())["components"]}
    assert locked["tinytorch"] == mine != head  # this checkout's commit, not the branch head
    # stream-build itself does the same job from that lock: nothing left to build
    again = cli("build", str(m), "--locked", "--json")
    assert again.code == 0 and again.states("tinytorch")[-1] == "cached", again.stderr


def test_a_commit_that_is_not_pushed_is_refused(served, tmp_path):
    checkout = clone(served, tmp_path / "tinytorch", "tinytorch", "release-2.11")
    git("commit", "-q", "--allow-empty", "-m", "local only", cwd=checkout)
    m = served["forge"].write_manifest(tmp_path / "set" / "stream-build.yaml")
    out = fedpkg("stream-build", "--manifest", str(m), cwd=checkout, conf=served["conf"])
    assert out.code == 2
    assert "of tinytorch is not in" in out.stderr and "push it to release-2.11 first" in out.stderr
    assert not (tmp_path / "set" / ".stream-build" / "repos").exists()


def test_a_checkout_on_another_branch_is_refused(served, tmp_path):
    checkout = clone(served, tmp_path / "tinytorch", "tinytorch", "release-2.10")
    m = served["forge"].write_manifest(tmp_path / "set" / "stream-build.yaml")
    out = fedpkg("stream-build", "--manifest", str(m), cwd=checkout, conf=served["conf"])
    assert out.code == 2
    assert "this checkout is on branch release-2.10" in out.stderr and "builds tinytorch from release-2.11" in out.stderr


def test_a_set_without_this_package_is_refused(served, tmp_path):
    checkout = clone(served, tmp_path / "tinypython3.11", "tinypython3.11", "release-3.11")
    m = manifest(tmp_path / "other.yaml", served["forge"], ["tinytorch:release-2.11"])
    out = fedpkg("stream-build", "--manifest", str(m), cwd=checkout, conf=served["conf"])
    assert out.code == 2 and "does not contain tinypython3.11 (it has: tinytorch)" in out.stderr
    missing = fedpkg("stream-build", cwd=checkout, conf=served["conf"])
    assert missing.code == 2 and "no stream-build.yaml in" in missing.stderr and "--manifest FILE" in missing.stderr


def test_nowait_starts_the_build_and_stream_status_watches_it(served, tmp_path):
    checkout = clone(served, tmp_path / "tinytorch", "tinytorch", "release-2.11")
    (checkout / "stream-build.yaml").write_text(served["forge"].write_manifest(tmp_path / "m.yaml").read_text())
    started = fedpkg("stream-build", "--nowait", cwd=checkout, conf=served["conf"])
    assert started.code == 0, started.stderr
    assert "started in the background" in started.stdout and "stream-status --watch" in started.stdout
    watched = fedpkg("stream-status", "--watch", cwd=checkout, conf=served["conf"])
    assert watched.code == 0, watched.stderr
    assert "✓ tinyllm done" in watched.stdout and watched.stdout.rstrip().endswith("ended: ok")
    status = fedpkg("stream-status", "--json", cwd=checkout, conf=served["conf"])
    assert json.loads(status.stdout)["state"] == "finished: ok"


def test_rpkgs_own_commands_keep_working(served, tmp_path):
    checkout = clone(served, tmp_path / "tinypython3.11", "tinypython3.11", "release-3.11")
    out = fedpkg("--release", "f44", "sources", cwd=checkout, conf=served["conf"])
    assert out.code == 0, out.stderr
    tarball = checkout / "tinypython-3.11.9.tar.gz"
    expected = (checkout / "sources").read_text().split(" = ")[1].strip()
    assert hashlib.sha512(tarball.read_bytes()).hexdigest() == expected  # fetched from the forge's lookaside
    helped = fedpkg("--help", cwd=checkout, conf=served["conf"])
    for command in ("sources", "scratch-build", "stream-build", "stream-status", "request-stream-branch"):
        assert command in helped.stdout
    spec = fedpkg("gimmespec", cwd=checkout, conf=served["conf"])
    assert spec.code == 0 and spec.stdout.strip() == "tinypython3.11.spec"


@pytest.mark.parametrize("args, words", [
    (["stream-frobnicate"], "invalid choice: 'stream-frobnicate'"),
    (["stream-build", "--frobnicate"], "Usage: fedpkg-stream stream-build [OPTIONS]"),  # not 'usage: rpkg'
    (["stream-build", "--frobnicate"], "No such option: --frobnicate"),
    (["stream-build", "--backend", "local", "--target", "f44-build"], "--target names a Koji build target"),
    (["stream-build", "--jobs", "0"], "Invalid value for '-j' / '--jobs'"),
    (["stream-build", "--profile", "stg"], "--profile only apply to the koji backend"),
    (["stream-status", "--nowait"], "No such option: --nowait"),
])
def test_bad_input(served, tmp_path, args, words):
    checkout = clone(served, tmp_path / "tinytorch", "tinytorch", "release-2.11")
    (checkout / "stream-build.yaml").write_text(served["forge"].write_manifest(tmp_path / "m.yaml").read_text())
    out = fedpkg(*args, cwd=checkout, conf=served["conf"])
    assert out.code == 2 and words in out.stderr
    assert not (checkout / ".stream-build" / "repos").exists()


def test_json_errors_are_an_object_on_stdout(served, tmp_path):
    checkout = clone(served, tmp_path / "tinytorch", "tinytorch", "release-2.11")
    out = fedpkg("stream-status", "--json", cwd=checkout, conf=served["conf"])
    assert out.code == 2 and "fedpkg-stream: error: no stream-build.yaml in" in out.stderr
    error = json.loads(out.stdout)
    assert error["event"] == "error" and error["exit_code"] == 2 and "--manifest FILE" in error["message"]


def test_a_missing_rpkg_config_is_an_environment_error(served, tmp_path):
    out = fedpkg("stream-status", cwd=tmp_path, conf=tmp_path / "no-such.conf")
    assert out.code == 4 and "no-such.conf does not exist" in out.stderr


def test_request_stream_branch_hands_over_to_branch_requests(served, tmp_path):
    forge = served["forge"]
    add_package(forge, "tinytorch", "v2.12.0", {"README": "upstream 2.12\n"}, namespace="upstream")
    checkout = clone(served, tmp_path / "tinytorch", "tinytorch", "release-2.11")
    common = ["--forge", "git", "--dist-git", forge.distgit_url, "--upstream", f"{forge.upstream_url}tinytorch"]
    out = fedpkg("--dry-run", "request-stream-branch", "2.12", *common, cwd=checkout, conf=served["conf"])
    assert out.code == 0, out.stderr
    assert "would request release-2.12 of tinytorch" in out.stdout
    assert "refs/heads/release-2.12" in out.stdout
    after = fedpkg("request-stream-branch", "2.12", *common, "--dry-run", cwd=checkout, conf=served["conf"])
    assert after.code == 0 and after.stdout == out.stdout  # --dry-run after the subcommand means the same
    refused = fedpkg("--dry-run", "request-stream-branch", "2.13", *common, cwd=checkout, conf=served["conf"])
    assert refused.code == 2 and "has no release of series 2.13" in refused.stderr
    heads = subprocess.run(["git", "ls-remote", "--heads", f"{forge.distgit_url}tinytorch.git"],
                           capture_output=True, text=True, check=True).stdout
    assert "release-2.12" not in heads and "release-2.13" not in heads  # dry runs send nothing


def test_a_git_forge_is_where_the_clone_came_from(served, tmp_path):
    """Without --dist-git, ``--forge git`` pushes to the clone's remote (else rpkg's gitbaseurl), never to the
    config's default (ssh://pkgs.fedoraproject.org)."""
    forge = served["forge"]
    add_package(forge, "tinyz", "v3.0", {"README": "upstream 3\n"}, namespace="upstream")
    checkout = clone(served, tmp_path / "tinyz", "tinyz", "release-2")
    upstream = ["--upstream", f"{forge.upstream_url}tinyz"]
    out = fedpkg("request-stream-branch", "3", "--forge", "git", *upstream, "--json", "--dry-run",
                 cwd=checkout, conf=served["conf"])
    assert out.code == 0, out.stderr
    request = json.loads(out.stdout)["request"]
    assert f"{forge.distgit_url}tinyz.git" in request["command"] and "pkgs.fedoraproject.org" not in out.stdout
    git("remote", "remove", "origin", cwd=checkout)  # no remote: rpkg's gitbaseurl says where dist-git is
    again = fedpkg("--name", "tinyz", "request-stream-branch", "3", "--forge", "git", *upstream, "--json", "--dry-run",
                   cwd=checkout, conf=served["conf"])
    assert again.code == 0, again.stderr
    assert f"{forge.distgit_url}tinyz.git" in json.loads(again.stdout)["request"]["command"]


def test_subcommand_help_names_fedpkg_stream(served, tmp_path):
    checkout = clone(served, tmp_path / "tinyz", "tinyz", "release-2")
    for command, words in (("stream-build", "--target KOJI_TARGET"), ("stream-status", "--watch"),
                           ("request-stream-branch", "--dry-run")):
        out = fedpkg(command, "--help", cwd=checkout, conf=served["conf"])
        assert out.code == 0 and out.stdout.startswith(f"Usage: fedpkg-stream {command} [OPTIONS]"), out.stdout
        assert words in out.stdout
