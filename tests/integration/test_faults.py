"""Faults and hostile input on real parts: corrupt locks, full disks, dripping servers, kill -9, orphans."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import List

import pytest

from conftest import Result, add_package, cli, manifest, needs_rpm, spec

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


def _kill_9(proc: "subprocess.Popen[str]") -> None:
    proc.kill()  # SIGKILL: stream-build gets no chance to clean up
    proc.communicate()


def _left_after_kill(marker: str) -> List[str]:
    """The processes mentioning ``marker`` still there 5 s after the kill (the kernel's parent-death
    signal reaches the children at once; the grace is for their own exit)."""
    deadline = time.monotonic() + 5
    while _ours(marker) and time.monotonic() < deadline:
        time.sleep(0.1)
    return _ours(marker)


def test_kill_9_mid_build_leaves_no_rpmbuild_and_no_build_shell(forge, tmp_path):
    add_package(forge, "slow", "main", {"slow.spec": spec("slow", build="sleep 300 &\nsleep 300")})
    m = manifest(tmp_path / "s.yaml", forge, ["slow:main"])
    workdir = str(tmp_path / ".stream-build")
    proc = _start("build", str(m))
    try:
        def started() -> bool:
            running = _ours(workdir)
            return any("rpmbuild" in p for p in running) and sum("sleep 300" in p for p in running) == 2

        _wait_for(started)
    finally:
        _kill_9(proc)
    assert _left_after_kill(workdir) == []


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
            _kill_9(proc)
        assert _left_after_kill(url) == []


def _can_mount() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-m", "true"], capture_output=True).returncode == 0


needs_mount = pytest.mark.skipif(not _can_mount(), reason="needs unshare -m and mount (root)")


def _cli_on_small_disk(mount: Path, size: int, *args: str) -> Result:
    """The real stream-build in a private mount namespace where ``mount`` is a tmpfs of ``size`` bytes."""
    mount.mkdir(parents=True, exist_ok=True)
    script = f'mount -t tmpfs -o size={size} tmpfs "$0" && exec "{sys.executable}" -m streambuild.cli "$@"'
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script, str(mount), *args], capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


@needs_mount
@pytest.mark.parametrize("size, stages", [(96 * 1024, ("creating a mirror", "fetching")),
                                          (1024 * 1024, ("rpmbuild", "rpm", "the build of"))])
def test_a_full_work_directory_is_exit_4_naming_the_file_system(forge, tmp_path, size, stages):
    """The disk fills up while git makes its mirrors (96 KiB: shallow mirrors of one ref take little), or while a build's root or rpmbuild fills it (1 MiB)."""
    m = forge.write_manifest(tmp_path / "s.yaml")
    workdir = tmp_path / "small"
    out = _cli_on_small_disk(workdir, size, "build", str(m), "--workdir", str(workdir))
    assert out.code == 4, out.stderr
    assert f"no space left on the file system at {workdir}, " in out.stderr.splitlines()[-1], out.stderr
    assert any(f": {stage}" in out.stderr for stage in stages), out.stderr


@needs_mount
def test_createrepo_c_failing_on_a_full_disk_is_reported_as_such_not_as_interrupted(forge, tmp_path):
    m = forge.write_manifest(tmp_path / "s.yaml")
    assert cli("build", str(m)).code == 0
    work = tmp_path / ".stream-build"
    rpms = [p for p in (work / "repos" / "stream").glob("*.rpm")]
    pages = sum(-(-p.stat().st_size // 4096) for p in rpms)
    out = _cli_on_small_disk(work / "repos", (pages + 1) * 4096, "build", str(m))
    assert out.code == 4, out.stderr
    assert "createrepo_c writing the repository" in out.stderr and f"file system at {work / 'repos'}" in out.stderr
    status = cli("status", str(m))
    assert status.code == 0 and "finished: failed" in status.stdout, status.stdout
    refused = cli("build", str(m), "--resume")
    assert refused.code == 2 and "no interrupted run" in refused.stderr
    assert not (work / "repos" / "stream.new").exists()
    again = cli("build", str(m), "--json")  # space again: nothing is rebuilt, the repository is made
    assert again.code == 0 and again.states("tinyllm") == ["waiting", "cached"]


def test_a_dripping_lookaside_fails_the_run_in_seconds_naming_the_file(forge, tmp_path, monkeypatch):
    data = b"a tarball that never arrives\n"
    add_package(forge, "dripped", "main", {
        "dripped.spec": spec("dripped"),
        "sources": f"SHA512 (dripped-1.0.tar.gz) = {hashlib.sha512(data).hexdigest()}\n",
    })
    stop = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def drip() -> None:
        connection, _ = server.accept()
        with connection:
            connection.recv(65536)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(data))
            for byte in data:
                if stop.wait(1.0):
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return

    threading.Thread(target=drip, daemon=True).start()
    text = (f"base: fedora-44-x86_64\nbuild:\n- type: dist-git\n  url: {forge.distgit_url}\n"
            f"  lookaside: http://127.0.0.1:{server.getsockname()[1]}/\n  packages: [dripped:main]\n")
    (tmp_path / "s.yaml").write_text(text)
    monkeypatch.setenv("STREAM_BUILD_DOWNLOAD_DEADLINE", "3")
    start = time.monotonic()
    try:
        out = cli("build", str(tmp_path / "s.yaml"), timeout=120)
    finally:
        stop.set()
        server.close()
    assert out.code == 2 and time.monotonic() - start < 60, out.stderr
    assert "dripped: dripped-1.0.tar.gz from http://127.0.0.1:" in out.stderr and "took longer than allowed" in out.stderr
    assert [p for p in (tmp_path / ".stream-build" / "lookaside").rglob("*") if p.is_file()] == []


def test_ctrl_c_before_the_run_started_does_not_advise_resume(tmp_path):
    with socket.socket() as server:  # git waits on it until Ctrl-C
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        url = f"git://127.0.0.1:{server.getsockname()[1]}/quiet-{os.getpid()}/"
        (tmp_path / "s.yaml").write_text(
            f"base: fedora-44-x86_64\nbuild:\n- type: git\n  url: {url}\n  packages: [a:main]\n")
        proc = subprocess.Popen([sys.executable, "-m", "streambuild.cli", "build", str(tmp_path / "s.yaml")],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            _wait_for(lambda: [p for p in _ours(url) if "git" in p])
            os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C in a terminal does: the whole foreground group
            _out, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert err == "stream-build: error: interrupted (nothing had been built yet: there is nothing to resume)\n"
    refused = cli("build", str(tmp_path / "s.yaml"), "--resume")
    assert refused.code == 2 and "no interrupted run" in refused.stderr
