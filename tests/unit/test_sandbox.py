"""The bubblewrap doorway, against the real bwrap: what a sandboxed command can and cannot do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from streambuild import sandbox
from streambuild.errors import EnvironmentProblem

needs_bwrap = pytest.mark.skipif(sandbox.available() is not None, reason=f"bubblewrap cannot run: {sandbox.available()}")


def run(box: sandbox.Sandbox, script: str) -> subprocess.CompletedProcess:
    return subprocess.run(sandbox.command(box, [sys.executable, "-c", script]), capture_output=True, text=True, timeout=60)


@needs_bwrap
def test_only_writable_directories_can_be_written(tmp_path: Path) -> None:
    out, other = tmp_path / "out", tmp_path / "other"
    out.mkdir()
    other.mkdir()
    proc = run(sandbox.Sandbox(writable=(str(out),), readable=(str(other),)),
               f"open({str(out / 'ok')!r}, 'w').write('x')\n"
               f"try:\n    open({str(other / 'no')!r}, 'w')\nexcept OSError as e:\n    print('refused', e.errno)\n")
    assert proc.returncode == 0, proc.stderr
    assert (out / "ok").read_text() == "x"
    assert not (other / "no").exists()
    assert "refused" in proc.stdout


@needs_bwrap
def test_the_host_is_read_only_and_tmp_is_empty(tmp_path: Path) -> None:
    secret = Path("/tmp") / f"stream-build-secret-{os.getpid()}"
    secret.write_text("ccache")
    try:
        proc = run(sandbox.Sandbox(),
                   f"import os\nprint(os.path.exists({str(secret)!r}))\n"
                   "try:\n    open('/usr/stream-build-probe', 'w')\nexcept OSError as e:\n    print('ro', e.errno)\n")
    finally:
        secret.unlink()
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "ro", "30"]  # EROFS
    assert not Path("/usr/stream-build-probe").exists()


@needs_bwrap
def test_no_network_unless_asked() -> None:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    threading.Thread(target=lambda: server.accept(), daemon=True).start()
    probe = f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=5); print('reached')\nexcept OSError: print('unreachable')\n"
    try:
        assert run(sandbox.Sandbox(), probe).stdout.strip() == "unreachable"
        assert run(sandbox.Sandbox(network=True), probe).stdout.strip() == "reached"
    finally:
        server.close()


@needs_bwrap
def test_the_environment_is_clean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KRB5CCNAME", "FILE:/tmp/krb5cc_0")
    proc = run(sandbox.Sandbox(env={"EXTRA": "1"}), "import os, json; print(json.dumps(dict(os.environ)))")
    env = __import__("json").loads(proc.stdout)
    assert "KRB5CCNAME" not in env
    assert env["EXTRA"] == "1" and env["HOME"] == "/tmp"


def test_turned_off_runs_the_command_itself(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.setenv(sandbox.DISABLE_VARIABLE, "off")
    assert sandbox.command(sandbox.Sandbox(), ["true"], "spec analysis") == ["true"]
    assert "spec analysis runs without a sandbox" in capsys.readouterr().err


def test_missing_bubblewrap_is_an_environment_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sandbox, "_PROBED", {"bwrap": "bubblewrap is not installed (Debian: apt install bubblewrap)"})
    with pytest.raises(EnvironmentProblem) as info:
        sandbox.command(sandbox.Sandbox(), ["true"], "spec analysis")
    assert info.value.exit_code == 4
    assert "apt install bubblewrap" in str(info.value) and sandbox.DISABLE_VARIABLE in str(info.value)


@needs_bwrap
def test_fedora_shell_is_bash() -> None:
    box = sandbox.Sandbox(fedora_shell=True)
    proc = subprocess.run(sandbox.command(box, ["/bin/sh", "-c", 't=ABC; echo ${t,,}']), capture_output=True, text=True)
    assert proc.stdout.strip() == "abc", proc.stderr
