"""Shared fixtures: the loopback forge, a way to add packages to it, and the real CLI."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
sys.path.insert(0, str(ROOT / "examples"))

import localforge  # noqa: E402


def _have(*tools: str) -> bool:
    return all(shutil.which(t) for t in tools)


needs_rpm = pytest.mark.skipif(
    not _have("rpmbuild", "rpmspec", "createrepo_c", "git"),
    reason="needs git, rpmbuild, rpmspec and createrepo_c (scripts/setup.sh installs them)",
)


@pytest.fixture
def forge(tmp_path: Path) -> Iterator[localforge.LocalForge]:
    """The example forge (dist-git, upstream git, lookaside) served on loopback, stopped afterwards."""
    with localforge.LocalForge(tmp_path / "forge") as served:
        yield served


def spec(name: str, version: str = "1.0", buildrequires: Sequence[str] = (), requires: Sequence[str] = (),
         build: str = "", subpackages: Sequence[str] = (), provides: Sequence[str] = ()) -> str:
    """A tiny noarch spec that builds in well under a second."""
    lines = [f"Name: {name}", f"Version: {version}", "Release: 1%{?dist}", f"Summary: {name} for tests",
             "License: MIT", "BuildArch: noarch"]
    lines += [f"BuildRequires: {br}" for br in buildrequires]
    lines += [f"Requires: {r}" for r in requires]
    lines += [f"Provides: {p}" for p in provides]
    lines += ["%description", f"{name} for tests."]
    for sub in subpackages:
        lines += [f"%package {sub}", f"Summary: {name}-{sub}", f"%description {sub}", f"{name}-{sub}."]
    lines += ["%build", build or ":", "%install", f"mkdir -p %{{buildroot}}/usr/share/{name}",
              f"echo {name}-%{{version}} > %{{buildroot}}/usr/share/{name}/VERSION", "%files", f"/usr/share/{name}"]
    for sub in subpackages:
        lines += [f"%files {sub}"]
    lines += ["%changelog", "* Mon Jun 03 2024 Tests <tests@example.invalid> - 1.0-1", "- test package", ""]
    return "\n".join(lines)


def add_package(forge: localforge.LocalForge, name: str, branch: str, files: Dict[str, str],
                namespace: str = "rpms") -> str:
    """Create (or extend) a bare repository on the forge with one commit holding ``files``; return it."""
    bare = forge.layout.repo(name, namespace)
    if not bare.exists():
        bare.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", "--bare", str(bare)], check=True)
    with tempfile.TemporaryDirectory() as work:
        env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.invalid",
                   GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@example.invalid")
        run = lambda *a: subprocess.run(["git", *a], cwd=work, env=env, check=True, capture_output=True)  # noqa: E731
        run("init", "-q")
        for path, text in files.items():
            Path(work, path).parent.mkdir(parents=True, exist_ok=True)
            Path(work, path).write_text(text)
        run("add", "-A")
        run("commit", "-q", "-m", f"{name} on {branch}")
        run("push", "-q", "--force", str(bare), f"HEAD:refs/heads/{branch}")
        return run("rev-parse", "HEAD").stdout.decode().strip()


def manifest(path: Path, forge: localforge.LocalForge, packages: Sequence[str], extra: str = "",
             upstream: Sequence[str] = ()) -> Path:
    """Write a manifest building dist-git ``packages`` (``name:ref`` or YAML flow maps) from the forge."""
    text = f"base: fedora-44-x86_64\nbuild:\n- type: dist-git\n  url: {forge.distgit_url}\n"
    text += f"  lookaside: {forge.lookaside_url}\n  packages:\n" + "".join(f"  - {p}\n" for p in packages)
    if upstream:
        text += f"- type: git\n  url: {forge.upstream_url}\n  packages:\n" + "".join(f"  - {p}\n" for p in upstream)
    path.write_text(text + extra)
    return path


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    def events(self) -> List[dict]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.startswith("{")]

    def states(self, component: str) -> List[str]:
        return [e["state"] for e in self.events() if e.get("event") == "component" and e["component"] == component]


def cli(*args: str, cwd: Optional[Path] = None, timeout: float = 300) -> Result:
    """Run the real ``stream-build`` command in a subprocess."""
    proc = subprocess.run([sys.executable, "-m", "streambuild.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def build_rpms(spec_text: str, top: Path) -> List[Path]:
    """Build the binary RPMs of ``spec_text`` with the real rpmbuild (rpm's generators run); return them."""
    top.mkdir(parents=True, exist_ok=True)
    spec_path = top / "package.spec"
    spec_path.write_text(spec_text)
    proc = subprocess.run(["rpmbuild", "--define", f"_topdir {top}", "-bb", str(spec_path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return sorted((top / "RPMS").rglob("*.rpm"))


def createrepo_zstd() -> Optional[str]:
    """A createrepo_c that writes zstd metadata, as Fedora's repositories have (the PyPI wheel's)."""
    candidate = Path(sys.executable).parent / "createrepo_c"
    return str(candidate) if candidate.exists() else None


def make_repo(directory: Path, rpms: Sequence[Path], compression: str = "zstd") -> Path:
    """A repository of ``rpms`` made by the real createrepo_c, its metadata compressed as asked."""
    directory.mkdir(parents=True, exist_ok=True)
    for rpm in rpms:
        shutil.copy(rpm, directory / rpm.name)
    tool = createrepo_zstd() if compression == "zstd" else "createrepo_c"
    if tool is None:
        pytest.skip("no createrepo_c that writes zstd metadata (pip install createrepo_c)")
    subprocess.run([tool, "--quiet", "--general-compress-type", compression, str(directory)], check=True)
    return directory


_NO_USER_NAMESPACES = r"""
import ctypes, os, sys
CLONE_NEWUSER = 0x10000000
ready_r, ready_w = os.pipe()
mapped_r, mapped_w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(ready_r); os.close(mapped_w)
    if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWUSER) != 0:
        os._exit(90)
    os.write(ready_w, b"1"); os.read(mapped_r, 1)
    # root of this user namespace: allow no user namespace below it, then become nobody
    with open("/proc/sys/user/max_user_namespaces", "w") as limit:
        limit.write("0")
    os.setgroups([]); os.setresgid(65534, 65534, 65534); os.setresuid(65534, 65534, 65534)
    os.environ["HOME"] = os.environ.get("NO_USERNS_HOME", "/tmp")
    os.execv(sys.argv[1], sys.argv[1:])
os.close(ready_w); os.close(mapped_r)
os.read(ready_r, 1)
for name in ("uid_map", "gid_map"):
    with open(f"/proc/{pid}/{name}", "w") as handle:
        handle.write("0 0 4294967295\n")
os.write(mapped_w, b"1")
sys.exit(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
"""


def without_user_namespaces(argv: Sequence[str]) -> List[str]:
    """``argv`` run as ``nobody`` on a kernel that refuses it user namespaces (needs root to set up).

    The command runs in a user namespace of its own, mapped one to one onto the host's ids,
    whose ``user.max_user_namespaces`` is 0: as for a user on a host with user namespaces off.
    """
    return [sys.executable, "-c", _NO_USER_NAMESPACES, *argv]


@contextlib.contextmanager
def loopback_listener() -> Iterator[Tuple[int, List[object]]]:
    """A TCP port on 127.0.0.1 and the list of connections it accepted (to show that nothing reached it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(10)
    reached: List[object] = []

    def accept() -> None:
        try:
            reached.append(server.accept())
        except OSError:
            pass

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield server.getsockname()[1], reached
    finally:
        server.close()
