"""Installs into an installroot, for real (DNF4, rpm): a Fedora-shaped root, whoever installs, asked as DNF asks."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, Iterator, List, Optional

import pytest

import localforge
from conftest import Result, needs_rpm

from streambuild.errors import InputError

pytestmark = [pytest.mark.integration, needs_rpm]

FEDORA_DB = "/usr/lib/sysimage/rpm"


def cli_as(home: Path, *args: str, stdin: Optional[str] = None) -> Result:
    """The real stream-build, run by a user whose $HOME is ``home`` (Debian's rpm keeps its database there)."""
    proc = subprocess.run([sys.executable, "-m", "streambuild.cli", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "HOME": str(home)},
                          stdin=subprocess.DEVNULL if stdin is None else None, input=stdin)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def rpm_qa(root: Path, dbpath: str = FEDORA_DB, home: Optional[Path] = None) -> List[str]:
    env = dict(os.environ, **({"HOME": str(home)} if home else {}))
    out = subprocess.run(["rpm", "--root", str(root), "--dbpath", dbpath, "-qa", "--qf", "%{NAME}\\n"],
                         capture_output=True, text=True, env=env)
    return sorted(out.stdout.split())


def databases(root: Path) -> List[str]:
    return sorted("/" + str(p.parent.relative_to(root)) for p in root.rglob("rpmdb.sqlite"))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dict[str, Path]]:
    """The toy example stream, built once for every test here."""
    work = tmp_path_factory.mktemp("install")
    with localforge.LocalForge(work / "forge") as forge:
        manifest = forge.write_manifest(work / "stream-build.yaml")
        home = work / "builder-home"
        home.mkdir()
        out = cli_as(home, "build", str(manifest))
        assert out.code == 0, out.stderr
        yield {"manifest": manifest, "work": work}


def test_the_database_is_where_fedora_keeps_it_and_a_second_user_installs_nothing(built, tmp_path):
    root = tmp_path / "root"
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    alice.mkdir()
    bob.mkdir()
    first = cli_as(alice, "install", "-m", str(built["manifest"]), "--installroot", str(root), "-y")
    assert first.code == 0, first.stderr
    assert "installed 3 packages" in first.stdout
    assert databases(root) == [FEDORA_DB]  # nothing under alice's $HOME inside the root
    assert not (root / str(alice).lstrip("/")).exists()
    # read by another user, with another $HOME and the host rpm's own default elsewhere
    assert rpm_qa(root, home=bob) == ["tinyllm", "tinypython3.11", "tinytorch"]
    # a second install by bob finds everything installed
    again = cli_as(bob, "install", "-m", str(built["manifest"]), "--installroot", str(root), "-y")
    assert again.code == 0, again.stderr
    assert "nothing to install: tinyllm already installed" in again.stdout
    assert databases(root) == [FEDORA_DB]
    # and a DNF whose rpm has Fedora's default database path (as on Fedora) sees the same packages
    fedora_home = tmp_path / "fedora-home"
    fedora_home.mkdir()
    (fedora_home / ".rpmmacros").write_text(f"%_dbpath {FEDORA_DB}\n")
    dnf = subprocess.run(["dnf", f"--installroot={root}", f"--setopt=reposdir={tmp_path / 'none'}", "-q",
                          "repoquery", "--installed", "--qf", "%{name}"],
                         capture_output=True, text=True, env={**os.environ, "HOME": str(fedora_home)})
    assert dnf.returncode == 0, dnf.stderr
    assert sorted(dnf.stdout.split()) == ["tinyllm", "tinypython3.11", "tinytorch"]


def test_an_existing_database_is_kept(built, tmp_path):
    """A root that already has its database at /var/lib/rpm keeps it, even for a Fedora 44 base."""
    root = tmp_path / "root"
    subprocess.run(["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "--initdb"], check=True)
    out = cli_as(tmp_path, "install", "-m", str(built["manifest"]), "tinypython3.11", "--installroot", str(root), "-y")
    assert out.code == 0, out.stderr
    assert databases(root) == ["/var/lib/rpm"] and rpm_qa(root, "/var/lib/rpm") == ["tinypython3.11"]


def test_an_older_base_keeps_its_database_in_var_lib_rpm(built, tmp_path):
    manifest = tmp_path / "old.yaml"
    manifest.write_text(built["manifest"].read_text().replace("fedora-44-x86_64", "fedora-35-x86_64"))
    root = tmp_path / "root"
    assert cli_as(tmp_path, "build", str(manifest)).code == 0
    out = cli_as(tmp_path, "install", "-m", str(manifest), "tinypython3.11", "--installroot", str(root), "-y")
    assert out.code == 0, out.stderr
    assert "tinypython3.11-3.11.9-1.fc35.noarch" in out.stdout
    assert databases(root) == ["/var/lib/rpm"]
    assert rpm_qa(root, "/var/lib/rpm") == ["tinypython3.11"]


def test_without_a_terminal_and_without_y_nothing_is_installed(built, tmp_path):
    root = tmp_path / "root"
    out = cli_as(tmp_path, "install", "-m", str(built["manifest"]), "--installroot", str(root))
    assert out.code == 1
    assert "Operation aborted" in out.stderr and "-y" in out.stderr
    assert "tinyllm-0.20.0-1.fc44.noarch" in out.stderr  # what would have been installed is shown
    assert rpm_qa(root) == [] and databases(root) in ([], [FEDORA_DB])  # DNF opens the database, as dnf does


def test_assumeno_wins_over_y(built, tmp_path):
    root = tmp_path / "root"
    out = cli_as(tmp_path, "install", "-m", str(built["manifest"]), "--installroot", str(root), "-y", "--assumeno")
    assert out.code == 1 and "Operation aborted (--assumeno)" in out.stderr
    assert rpm_qa(root) == []


def test_run_without_dnf_is_refused_before_anything_is_built(built, tmp_path):
    """The install run would do needs DNF's Python API: without it, nothing is locked or built (exit 4)."""
    hide = tmp_path / "no-dnf"
    (hide / "dnf").mkdir(parents=True)
    (hide / "dnf" / "__init__.py").write_text("raise ImportError('DNF is not installed here (test)')\n")
    manifest = tmp_path / "s.yaml"
    manifest.write_text(built["manifest"].read_text())
    proc = subprocess.run([sys.executable, "-m", "streambuild.cli", "run", str(manifest), "--installroot",
                           str(tmp_path / "root"), "-y"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join([str(hide), os.environ.get("PYTHONPATH", "")])},
                          stdin=subprocess.DEVNULL)
    assert proc.returncode == 4, proc.stderr
    assert "neither libdnf5 nor DNF4's Python API can be imported" in proc.stderr and "python3-dnf" in proc.stderr
    assert not (tmp_path / ".stream-build" / "results").exists() and not (tmp_path / "s.lock").exists()


def _repo(tmp_path: Path, name: str, version: str) -> Path:
    from conftest import build_rpms, make_repo, spec

    text = spec(name, version=version).replace("Release: 1%{?dist}", "Release: 1.fc44")
    return make_repo(tmp_path / f"repo-{version}", build_rpms(text, tmp_path / f"build-{version}"), compression="gz")


def test_an_older_installed_version_is_upgraded_to_the_streams_and_a_newer_one_kept(tmp_path):
    """One behaviour for DNF4 and libdnf5 (whose add_rpm_install upgrades): the stream's version is what is
    installed; the NEVRAs reported are what came in (an upgrade removes the old one: not reported)."""
    from streambuild.install import InstallRequest, install

    root, cache = tmp_path / "root", tmp_path / "cache"

    def install_from(repo: Path) -> List[str]:
        return install(InstallRequest(packages=["tinyup"], stream_repo=str(repo), installroot=str(root),
                                      releasever="44", cachedir=str(cache)))

    old, new, newest = (_repo(tmp_path, "tinyup", v) for v in ("1.0", "1.1", "2.0"))
    assert install_from(old) == ["tinyup-1.0-1.fc44.noarch"]
    assert install_from(new) == ["tinyup-1.1-1.fc44.noarch"]  # upgraded, and only the new one reported
    versions = subprocess.run(["rpm", "--root", str(root), "--dbpath", FEDORA_DB, "-q", "tinyup"],
                              capture_output=True, text=True).stdout.split()
    assert versions == ["tinyup-1.1-1.fc44.noarch"]
    assert install_from(new) == []  # the stream's version is there: nothing to do
    assert install_from(newest) == ["tinyup-2.0-1.fc44.noarch"]
    assert install_from(old) == []  # never a downgrade
    versions = subprocess.run(["rpm", "--root", str(root), "--dbpath", FEDORA_DB, "-q", "tinyup"],
                              capture_output=True, text=True).stdout.split()
    assert versions == ["tinyup-2.0-1.fc44.noarch"]
    # the collector sees this process's objects again after each install (DNF's ran with them frozen)
    assert gc.get_freeze_count() == 0
    with pytest.raises(InputError, match="'nope' is not provided by the stream"):
        install(InstallRequest(packages=["nope"], stream_repo=str(newest), installroot=str(root), releasever="44",
                               cachedir=str(cache)))
    assert gc.get_freeze_count() == 0


CHILD = """
import json, sys
from streambuild.install import STREAM_REPO_ID, InstallRequest, _install_in_child
root, repo, cache, answer = sys.argv[1:]
request = InstallRequest(packages=["tinyllm"], stream_repo=repo, installroot=root, releasever="44", cachedir=cache,
                         confirm=lambda items: answer == "yes" and "tinyllm" in " ".join(items))
try:
    print(json.dumps(_install_in_child(request, {STREAM_REPO_ID: "file://" + repo}, "/usr/lib/sysimage/rpm")))
except Exception as exc:
    print(type(exc).__name__, exc)
"""


def test_the_child_process_install_of_libdnf5_hosts_works_with_dnf4_too(built, tmp_path):
    """With libdnf5 (Fedora 41+) an install into a root runs in a child whose rpm configuration names the
    root's database, asking the parent before it changes anything; driven here through DNF4."""
    root, home = tmp_path / "root", tmp_path / "carol"
    home.mkdir()
    root.mkdir()
    repo = built["manifest"].parent / ".stream-build" / "repos" / "stream"

    def child(answer: str) -> str:
        proc = subprocess.run([sys.executable, "-c", CHILD, str(root), str(repo), str(tmp_path / "cache"), answer],
                              capture_output=True, text=True, timeout=300, env={**os.environ, "HOME": str(home)})
        assert "Traceback" not in proc.stderr, proc.stderr
        return proc.stdout.strip()

    assert child("no").startswith("InstallAborted")
    assert rpm_qa(root) == []
    installed = json.loads(child("yes"))
    assert sorted(n.rsplit("-", 2)[0] for n in installed) == ["tinyllm", "tinypython3.11", "tinytorch"]
    assert databases(root) == [FEDORA_DB] and rpm_qa(root) == ["tinyllm", "tinypython3.11", "tinytorch"]


def test_an_installroot_that_cannot_be_made_is_exit_4_naming_it(built, tmp_path):
    (tmp_path / "a-file").write_text("not a directory")
    for root in ("/proc/stream-build-root", str(tmp_path / "a-file" / "below")):
        out = cli_as(tmp_path, "install", "-m", str(built["manifest"]), "--installroot", root, "-y")
        assert out.code == 4 and f"cannot make the installroot {root}: " in out.stderr, out.stderr
