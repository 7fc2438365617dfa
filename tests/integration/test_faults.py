"""Faults and hostile input on real parts: corrupt locks, full disks, dripping servers, kill -9, orphans."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import List

import pytest

from conftest import add_package, cli, manifest, needs_rpm, spec

pytestmark = [pytest.mark.integration, needs_rpm]


@pytest.mark.parametrize("corrupt, where", [
    ('{"version": true, "base": "fedora-44-x86_64", "components": []}', "1:13"),
    ('{\n  "version": 1,\n', "3:1"),
    ("\xff\xfe", "1:1"),
    ('{"version": 1, "version": 1}', "1:16"),
])
def test_lock_replaces_a_corrupt_lock_and_keeps_it_aside(forge, tmp_path, corrupt, where):
    m = forge.write_manifest(tmp_path / "s.yaml")
    lock = tmp_path / "s.lock"
    lock.write_bytes(corrupt.encode("latin-1"))
    refused = cli("build", str(m))
    assert refused.code == 2 and refused.stderr.startswith(f"stream-build: error: {lock}:{where}: "), refused.stderr
    assert "run 'stream-build lock' to write a new lock; it keeps this one as s.lock.corrupt" in refused.stderr
    assert lock.read_bytes() == corrupt.encode("latin-1")  # nothing was changed
    out = cli("lock", str(m))
    assert out.code == 0, out.stderr
    assert f"kept the unreadable lock as {lock}.corrupt" in out.stderr
    assert (tmp_path / "s.lock.corrupt").read_bytes() == corrupt.encode("latin-1")
    assert [c["name"] for c in json.loads(lock.read_text())["components"]] == ["tinypython3.11", "tinytorch", "tinyllm"]
    assert cli("plan", str(m), "--locked").code == 0


def _ours(marker: str) -> List[str]:
    """Processes whose command line or working directory mentions ``marker``: 'pid command'."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                cmdline = handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/stat") as handle:
                zombie = handle.read().rsplit(")", 1)[1].split()[0] == "Z"
        except OSError:
            continue
        if not zombie and (marker in cmdline or marker in cwd):
            found.append(f"{entry} {cmdline}")
    return found


def _wait_for(check, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def _start(*args: str) -> "subprocess.Popen[str]":
    return subprocess.Popen([sys.executable, "-m", "streambuild.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def test_kill_9_mid_build_leaves_no_rpmbuild_and_no_build_shell(forge, tmp_path):
    add_package(forge, "slow", "main", {"slow.spec": spec("slow", build="sleep 300 &\nsleep 300")})
    m = manifest(tmp_path / "s.yaml", forge, ["slow:main"])
    workdir = str(tmp_path / ".stream-build")
    proc = _start("build", str(m))
    try:
        running = _wait_for(lambda: [p for p in _ours(workdir) if " sleep 300" in p or "rpmbuild" in p])
        assert any("rpmbuild" in p for p in running) and any("sleep 300" in p for p in _ours(workdir))
    finally:
        proc.kill()
        proc.communicate()
    deadline = time.monotonic() + 5
    while _ours(workdir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _ours(workdir) == []


def test_kill_9_while_git_waits_leaves_no_git(tmp_path):
    with socket.socket() as server:  # accepts, then never answers: git waits
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        url = f"git://127.0.0.1:{server.getsockname()[1]}/silent-{os.getpid()}/"
        (tmp_path / "s.yaml").write_text(
            f"base: fedora-44-x86_64\nbuild:\n- type: git\n  url: {url}\n  packages: [a:main]\n")
        proc = _start("lock", str(tmp_path / "s.yaml"))
        try:
            _wait_for(lambda: [p for p in _ours(url) if "git" in p])
        finally:
            proc.kill()
            proc.communicate()
        deadline = time.monotonic() + 5
        while _ours(url) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _ours(url) == []
