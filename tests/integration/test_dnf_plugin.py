"""``dnf stream-build`` for real: Debian's /usr/bin/dnf (DNF4) loading plugins/dnf/dnf_stream_build.py.

DNF runs under /usr/bin/python3, which sees ``streambuild`` through PYTHONPATH, as it
would see the installed python3-streambuild package. DNF's pluginpath is ``plugins/dnf``,
which holds only the DNF plugin: no call may print "Failed loading plugin".
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Iterator, Optional

import pytest

import localforge
from conftest import ROOT, Result, cli, needs_rpm



def _dnf4() -> Optional[str]:
    """DNF4's command: ``dnf4`` (Fedora 41 and later, where ``dnf`` is DNF5), else ``dnf`` if it is DNF4."""
    for name in ("dnf4", "dnf"):
        path = shutil.which(name)
        if path and subprocess.run([path, "--version"], capture_output=True, text=True).stdout.startswith("4."):
            return path
    return None


DNF4 = _dnf4()

pytestmark = [
    pytest.mark.integration,
    needs_rpm,
    pytest.mark.skipif(DNF4 is None, reason="needs DNF4's command (Debian: package dnf; Fedora: dnf4)"),
]


def dnf(*args: str, root: Optional[Path], cwd: Optional[Path] = None) -> Result:
    """Run the real ``dnf`` with our plugin directory, into ``root``, with no other repositories."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "core"), LC_ALL="C.UTF-8")
    where = [f"--installroot={root}", f"--setopt=reposdir={root}/etc/no-repos"] if root else []
    proc = subprocess.run(
        [str(DNF4), f"--setopt=pluginpath={ROOT / 'plugins' / 'dnf'}", *where, *args],
        cwd=cwd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    assert "Failed loading plugin" not in proc.stdout + proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def installed(root: Path) -> list:
    """What the root's rpm database holds, read where Fedora keeps it; there is no other database in the root."""
    out = subprocess.run(["rpm", "--root", str(root), "--dbpath", "/usr/lib/sysimage/rpm", "-qa", "--qf",
                          "%{NAME}\\n"], capture_output=True, text=True)
    for other in [p.parent for p in root.rglob("rpmdb.sqlite") if p.parent != root / "usr/lib/sysimage/rpm"]:
        # without --releasever, DNF itself opens the root's database at the host rpm's default path to
        # detect $releasever, before any plugin runs; nothing is ever installed there
        stray = subprocess.run(["rpm", "--root", str(root), "--dbpath", "/" + str(other.relative_to(root)), "-qa"],
                               capture_output=True, text=True)
        assert stray.stdout == "", f"packages in a second database {other}: {stray.stdout}"
    return sorted(out.stdout.split())


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The example forge, served, and the example stream built with ``dnf stream-build build``."""
    top = tmp_path_factory.mktemp("dnf")
    with localforge.LocalForge(top / "forge") as forge:
        work = top / "stream"
        manifest = forge.write_manifest(work / "stream-build.yaml")
        out = dnf("stream-build", "build", str(manifest), root=top / "build-root")
        assert out.code == 0, out.stderr
        yield {"forge": forge, "manifest": manifest, "work": work, "top": top, "build": out}


def test_build_prints_the_summary_and_plan_matches_the_cli(built):
    out = built["build"]
    assert "3 built, 0 unchanged (not rebuilt), 0 failed, 0 not built" in out.stdout
    assert "stream repository:" in out.stdout
    # the policy's warnings reach the terminal, worded as every front-end words them
    assert "stream-build: warning: tinytorch: commit-rights: " in out.stderr
    via_dnf = dnf("stream-build", "plan", str(built["manifest"]), "--json", "--locked", root=built["top"] / "r")
    via_cli = cli("plan", str(built["manifest"]), "--json", "--locked")
    assert via_dnf.code == 0 and via_cli.code == 0, via_dnf.stderr + via_cli.stderr
    assert json.loads(via_dnf.stdout) == json.loads(via_cli.stdout)
    assert json.loads(via_dnf.stdout)["batches"] == [["tinypython3.11"], ["tinytorch"], ["tinyllm"]]


def test_install_uses_dnfs_transaction_into_the_installroot(built, tmp_path):
    root = tmp_path / "root"
    out = dnf("--releasever=44", "stream-build", "install", "-m", str(built["manifest"]), "-y", root=root)
    assert out.code == 0, out.stderr
    # DNF's own transaction table and result, not ours
    assert "Installing:" in out.stdout and "Installing dependencies:" in out.stdout
    assert "Transaction Summary" in out.stdout and "Complete!" in out.stdout
    assert installed(root) == ["tinyllm", "tinypython3.11", "tinytorch"]  # no -devel packages
    events = [json.loads(line) for line in (built["work"] / ".stream-build" / "journal.jsonl").read_text().splitlines()]
    last = [e for e in events if e.get("event") == "installed"][-1]
    assert last["target"] == "dnf" and last["installroot"] == str(root) and len(last["packages"]) == 3


def test_packages_are_positional_arguments_and_the_manifest_is_found_here(built, tmp_path):
    root = tmp_path / "root"
    # packages before and after options, as in DNF; no -m: the manifest in the current directory
    out = dnf("stream-build", "install", "tinytorch-devel", "--workdir", str(built["work"] / ".stream-build"),
              "tinypython3.11", "-y", root=root, cwd=built["work"])
    assert out.code == 0, out.stderr
    assert installed(root) == ["tinypython3.11", "tinypython3.11-devel", "tinytorch", "tinytorch-devel"]
    old = dnf("stream-build", "install", str(built["manifest"]), "-y", root=tmp_path / "old")
    assert old.code == 1 and f"install takes package names; {built['manifest']} is a file" in old.stderr
    assert f"--manifest {built['manifest']}" in old.stderr


def test_assumeno_aborts_with_nothing_installed(built, tmp_path):
    root = tmp_path / "root"
    out = dnf("stream-build", "install", "-m", str(built["manifest"]), "--assumeno", root=root)
    assert out.code == 1
    assert "Installing:" in out.stdout and "Operation aborted." in out.stderr
    assert installed(root) == []


def test_status_lock_and_watch(built, tmp_path):
    status = dnf("stream-build", "status", str(built["manifest"]), root=tmp_path / "r")
    assert status.code == 0 and "finished: ok" in status.stdout and "tinyllm" in status.stdout
    watch = dnf("stream-build", "watch", str(built["manifest"]), root=tmp_path / "r")
    assert watch.code == 0, watch.stderr
    assert "✓ tinyllm done" in watch.stdout and watch.stdout.rstrip().endswith("ended: ok")
    lock = dnf("stream-build", "lock", str(built["manifest"]), "--json", root=tmp_path / "r")
    assert lock.code == 0, lock.stderr
    assert [c["name"] for c in json.loads(lock.stdout)["components"]] == ["tinypython3.11", "tinytorch", "tinyllm"]


@pytest.mark.parametrize("args, code, words", [
    (["frobnicate"], 2, "invalid choice: 'frobnicate'"),
    (["build", "--frobnicate"], 2, "No such option: --frobnicate"),
    (["build", "MANIFEST", "extra-package"], 2, "Got unexpected extra argument (extra-package)"),
    (["install", "-m", "MANIFEST", "-j", "3"], 2, "No such option: -j"),  # each subcommand has its own options
    (["status", "MANIFEST", "--install-target", "host"], 2, "No such option: --install-target"),
    (["install", "-m", "MANIFEST", "no-such-rpm", "-y"], 1, "'no-such-rpm' is not provided by the stream"),
    (["install", "-m", "MANIFEST", "--releasever=43", "-y"], 1, "--releasever=43 does not match the stream's base"),
    (["plan", "MANIFEST", "--json", "--dot"], 1, "--json and --dot cannot be used together"),
    (["build", "no-such-manifest.yaml"], 1, "no-such-manifest.yaml: manifest not found"),
    (["install", "-y"], 1, "no stream-build.yaml in"),
])
def test_bad_input(built, tmp_path, args, code, words):
    root = tmp_path / "root"
    args = [str(built["manifest"]) if a == "MANIFEST" else a for a in args]
    out = dnf("stream-build", *args, root=root, cwd=tmp_path)
    assert out.code == code, out.stdout + out.stderr
    assert words in out.stderr
    assert installed(root) == []


def test_install_of_a_stream_not_built(built, tmp_path):
    manifest = built["forge"].write_manifest(tmp_path / "unbuilt.yaml")
    out = dnf("stream-build", "install", "-m", str(manifest), "-y", root=tmp_path / "root")
    assert out.code == 1 and "has not been built" in out.stderr
    assert installed(tmp_path / "root") == []


def test_json_errors_are_an_object_on_stdout(built, tmp_path):
    manifest = built["forge"].write_manifest(tmp_path / "unbuilt.yaml")
    out = dnf("stream-build", "status", str(manifest), "--json", root=tmp_path / "r")
    assert out.code == 1 and "Error: stream-build: no run recorded" in out.stderr
    error = json.loads(out.stdout.strip().splitlines()[-1])
    assert error["event"] == "error" and error["exit_code"] == 2 and "no run recorded" in error["message"]


def test_help_and_quiet_are_the_commands_own(built, tmp_path):
    out = dnf("stream-build", "install", "--frobnicate", root=tmp_path / "r")
    assert out.code == 2 and "Usage: dnf stream-build install [OPTIONS] [PACKAGE]..." in out.stderr


def test_a_manifest_that_installs_elsewhere_asks_for_installroot(built, tmp_path):
    manifest = built["forge"].write_manifest(built["work"] / "elsewhere.yaml", tmp_path / "wanted-root")
    out = dnf("stream-build", "install", "-m", str(manifest), "--assumeno", root=None)  # DNF's default root: the host
    assert out.code == 1
    assert f"run 'dnf --installroot={tmp_path / 'wanted-root'} stream-build install'" in out.stderr
    assert "Installing:" not in out.stdout and not (tmp_path / "wanted-root").exists()


def test_the_dnf5_shim_installs_what_dnf_installs(built, tmp_path):
    """What the DNF5 C++ plugin execs, with the environment it sets: the same install as ``dnf stream-build``."""
    import sys

    root = tmp_path / "root"
    env = dict(os.environ, STREAM_BUILD_DNF5_INSTALLROOT=str(root), STREAM_BUILD_DNF5_RELEASEVER="44",
               STREAM_BUILD_DNF5_ASSUMEYES="1", STREAM_BUILD_DNF5_ASSUMENO="0")
    proc = subprocess.run([sys.executable, "-m", "streambuild.dnf5_shim", "install", "-m", str(built["manifest"])],
                          env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert installed(root) == ["tinyllm", "tinypython3.11", "tinytorch"]
    env.update(STREAM_BUILD_DNF5_INSTALLROOT=str(tmp_path / "other"), STREAM_BUILD_DNF5_ASSUMEYES="0",
               STREAM_BUILD_DNF5_ASSUMENO="1")
    refused = subprocess.run([sys.executable, "-m", "streambuild.dnf5_shim", "install", "-m", str(built["manifest"])],
                             env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert refused.returncode == 1 and "Operation aborted (--assumeno)" in refused.stderr
    assert installed(tmp_path / "other") == []


def test_an_older_installed_package_is_upgraded_to_the_streams(built, tmp_path):
    """DNF's own transaction does what stream-build's installs do: the stream's version, never the old one kept."""
    from conftest import build_rpms, spec

    root = tmp_path / "root"
    (old,) = build_rpms(spec("tinytorch", version="2.10").replace("Release: 1%{?dist}", "Release: 1.fc44"),
                        tmp_path / "old")
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/usr/lib/sysimage/rpm", "--initdb"], check=True)
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/usr/lib/sysimage/rpm", "-i", "--nodeps", str(old)],
                   check=True, capture_output=True)
    out = dnf("--releasever=44", "stream-build", "install", "-m", str(built["manifest"]), "tinytorch", "-y", root=root)
    assert out.code == 0, out.stderr
    assert "Upgrading:" in out.stdout and "tinytorch" in out.stdout
    query = subprocess.run(["rpm", "--root", str(root), "--dbpath", "/usr/lib/sysimage/rpm", "-q", "tinytorch"],
                           capture_output=True, text=True).stdout.split()
    assert query == ["tinytorch-2.11.0-1.fc44.noarch"]


def test_nowait_starts_the_build_and_watch_follows_it(built, tmp_path):
    started = dnf("stream-build", "build", str(built["manifest"]), "--nowait", root=tmp_path / "r")
    assert started.code == 0, started.stderr
    assert "started in the background" in started.stdout and "follow it with: stream-build watch" in started.stdout
    watched = dnf("stream-build", "watch", str(built["manifest"]), root=tmp_path / "r")
    assert watched.code == 0, watched.stderr
    assert "= tinyllm unchanged" in watched.stdout and watched.stdout.rstrip().endswith("ended: ok")
