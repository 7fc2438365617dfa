"""The bubblewrap doorway, against the real bwrap: what a sandboxed command can and cannot do."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from conftest import without_user_namespaces
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


# -- the system view and layers (build roots) -------------------------------------

def run_host_python(box: sandbox.Sandbox, script: str) -> subprocess.CompletedProcess:
    """``script`` under the host's own Python, which the system view shows (this virtual environment it does not)."""
    return subprocess.run(sandbox.command(box, ["/usr/bin/python3", "-c", script]), capture_output=True, text=True,
                          timeout=60)


needs_layers = pytest.mark.skipif(sandbox.layers_available() is not None,
                                  reason=f"layered sandboxes cannot be made: {sandbox.layers_available()}")


def _mounted(path: Path) -> list:
    """Mount points under ``path`` in this (the host's) mount namespace."""
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(str(path))]


def layer_with(tmp_path: Path, files: dict) -> Path:
    layer = tmp_path / "layer"
    for name, text in files.items():
        (layer / name).parent.mkdir(parents=True, exist_ok=True)
        (layer / name).write_text(text)
    return layer


@needs_layers
def test_a_layer_lies_over_the_system_directories_and_leaves_nothing_mounted(tmp_path: Path) -> None:
    host_file = Path("/etc/hostname") if Path("/etc/hostname").exists() else Path("/etc/passwd")
    original = host_file.read_bytes()
    layer = layer_with(tmp_path, {"usr/include/tinyz/tinyz.h": "#define TINYZ_SERIES 2\n",
                                  host_file.relative_to("/").as_posix(): "from the layer\n",
                                  "opt/tinyz/README": "opt\n"})
    box = sandbox.Sandbox(view="system", layers=(str(layer),), mountpoints=str(tmp_path / "mnt"))
    proc = run_host_python(box, f"print(open('/usr/include/tinyz/tinyz.h').read().strip())\n"
                    f"print(open({str(host_file)!r}).read().strip())\n"
                    "print(open('/opt/tinyz/README').read().strip())\n"
                    "import os; print(os.path.exists('/usr/bin/python3'))\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["#define TINYZ_SERIES 2", "from the layer", "opt", "True"]
    assert host_file.read_bytes() == original  # the host's file is untouched
    assert _mounted(tmp_path) == []  # the overlays lived in the command's own mount namespace
    assert [p.name for p in (tmp_path / "mnt").iterdir() if any(p.iterdir())] == []  # empty mount points


@needs_layers
def test_layers_are_read_only_and_the_first_is_on_top(tmp_path: Path) -> None:
    top = layer_with(tmp_path / "a", {"usr/share/sb/which": "top\n"})
    below = layer_with(tmp_path / "b", {"usr/share/sb/which": "below\n", "usr/share/sb/only-below": "b\n"})
    box = sandbox.Sandbox(view="system", layers=(str(top), str(below)), mountpoints=str(tmp_path / "mnt"))
    proc = run_host_python(box, "print(open('/usr/share/sb/which').read().strip(), open('/usr/share/sb/only-below').read().strip())\n"
                    "try:\n    open('/usr/share/sb/which', 'w')\nexcept OSError as e:\n    print(e.errno)\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["top", "b", "30"]  # EROFS
    assert (top / "usr/share/sb/which").read_text() == "top\n"


@needs_layers
def test_the_system_view_shows_no_home_no_work_directories_and_a_read_only_root(tmp_path: Path) -> None:
    work, other = tmp_path / "work", tmp_path / "other-build"
    work.mkdir()
    other.mkdir()
    (other / "secret").write_text("another build's file")
    scratch_tmp = tmp_path / "tmp"
    scratch_tmp.mkdir()
    box = sandbox.Sandbox(view="system", writable=(str(work),), tmp=str(scratch_tmp), hidden=(str(tmp_path),))
    proc = run_host_python(box, "import os\n"
                    f"print(os.path.exists({str(other / 'secret')!r}), os.path.exists('/root'), os.path.exists('/home'))\n"
                    f"open({str(work / 'out')!r}, 'w').write('x')\n"
                    "open('/tmp/t', 'w').write('t'); open('/var/tmp/v', 'w').write('v')\n"
                    "try:\n    os.mkdir('/new-top-level')\nexcept OSError as e:\n    print(e.errno)\n")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["False", "False", "False", "30"]
    assert (work / "out").read_text() == "x"
    assert (scratch_tmp / "t").read_text() == "t" and (scratch_tmp / "v").read_text() == "v"  # /tmp on its disk


@needs_layers
def test_a_killed_sandbox_leaves_nothing_mounted_or_running(tmp_path: Path) -> None:
    import time

    layer = layer_with(tmp_path, {"usr/share/sb/x": "x\n"})
    box = sandbox.Sandbox(view="system", layers=(str(layer),), mountpoints=str(tmp_path / "mnt"))
    token = f"sleep {600 + os.getpid() % 997}.{time.time_ns() % 1000}"  # unique on a shared machine
    proc = subprocess.Popen(sandbox.command(box, token.split()), start_new_session=True)
    try:
        deadline = time.monotonic() + 20
        while not any(_cmdline(pid).startswith(token) for pid in _children(proc.pid)):  # the sleep itself
            assert time.monotonic() < deadline, "the sandboxed command did not start"
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    deadline = time.monotonic() + 10
    while any(_cmdline(pid).startswith(token) for pid in _all_pids()):
        assert time.monotonic() < deadline, "the sandboxed command outlived its sandbox"
        time.sleep(0.05)
    assert _mounted(tmp_path) == []
    assert [p.name for p in (tmp_path / "mnt").iterdir()] == ["usr"] and not any((tmp_path / "mnt" / "usr").iterdir())


def _all_pids() -> list:
    return [int(p) for p in os.listdir("/proc") if p.isdigit()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _children(pid: int) -> list:
    """``pid`` and every process descending from it."""
    parents = {}
    for other in _all_pids():
        try:
            parents[other] = int(Path(f"/proc/{other}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
    found, frontier = [pid], [pid]
    while frontier:
        frontier = [p for p, parent in parents.items() if parent in frontier]
        found += frontier
    return found


@pytest.mark.skipif(os.geteuid() != 0 or not __import__("shutil").which("setpriv"), reason="needs root and setpriv")
def test_an_unprivileged_user_gets_layers_through_a_user_namespace(request: pytest.FixtureRequest) -> None:
    """As nobody: unshare --user --map-root-user --mount, overlayfs in the user namespace, bubblewrap inside."""
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="stream-build-test-"))  # pytest's own directories are root's alone
    os.chmod(shared, 0o755)
    request.addfinalizer(lambda: __import__("shutil").rmtree(shared))
    layer = layer_with(shared, {"usr/include/tinyz/tinyz.h": "#define TINYZ_SERIES 1\n"})
    tmp_path = shared
    os.chmod(tmp_path, 0o777)
    script = ("import subprocess, sys\nfrom streambuild import sandbox\n"
              "assert sandbox.layers_available() is None, sandbox.layers_available()\n"
              f"box = sandbox.Sandbox(view='system', layers=({str(layer)!r},), mountpoints={str(tmp_path / 'mnt')!r})\n"
              "cmd = sandbox.command(box, ['cat', '/usr/include/tinyz/tinyz.h'])\n"
              "print(cmd[:3]); sys.stdout.flush(); sys.exit(subprocess.run(cmd).returncode)\n")
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=60, env={**os.environ, "HOME": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["['unshare', '--user', '--map-root-user']", "#define TINYZ_SERIES 1"]


@pytest.mark.skipif(os.geteuid() != 0 or not __import__("shutil").which("setpriv"), reason="needs root and setpriv")
def test_a_host_that_refuses_namespaces_is_an_environment_problem(tmp_path: Path) -> None:
    """Root without capabilities (as in an unprivileged container): bubblewrap and unshare are refused by the kernel."""
    script = ("from streambuild import sandbox\nfrom streambuild.errors import EnvironmentProblem\n"
              f"box = sandbox.Sandbox(view='system', layers=({str(tmp_path)!r},))\n"
              "try:\n    sandbox.command(box, ['true'], 'the build of tinyzip')\n"
              "except EnvironmentProblem as exc:\n    print(exc.exit_code, exc)\n")
    proc = subprocess.run(["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--", sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("4 the build of tinyzip cannot have its build root: bubblewrap cannot create a sandbox")
    assert "run stream-build as root, or allow user namespaces" in proc.stdout and "--backend mock" in proc.stdout
    assert "STREAM_BUILD_SANDBOX=off" not in proc.stdout  # a build root cannot do without its sandbox


def test_an_overlay_cannot_take_every_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from streambuild.errors import InputError

    monkeypatch.setattr(sandbox, "_LAYERS", {"probe": (["unshare", "--mount", "--"], None)})
    monkeypatch.setattr(sandbox, "_PROBED", {"bwrap": None})
    layer = tmp_path / "a:b"
    (layer / "usr").mkdir(parents=True)
    with pytest.raises(InputError, match="':'.*--workdir"):
        sandbox.command(sandbox.Sandbox(view="system", layers=(str(layer),)), ["true"])


def test_layers_cannot_be_turned_off(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(sandbox.DISABLE_VARIABLE, "off")
    with pytest.raises(EnvironmentProblem, match="build root"):
        sandbox.command(sandbox.Sandbox(view="system", layers=(str(tmp_path),)), ["true"], "the build")
    with pytest.raises(ValueError):
        sandbox.Sandbox(layers=(str(tmp_path),))  # layers need the system view



@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to map a user namespace for the test")
def test_an_unprivileged_user_without_user_namespaces_is_told_what_to_do() -> None:
    """The kernel refuses user namespaces to this user: neither bubblewrap nor the build root can be made."""
    script = ("from streambuild import sandbox\nfrom streambuild.errors import EnvironmentProblem\n"
              "import os\nprint(os.getuid())\n"
              "try:\n    sandbox.command(sandbox.Sandbox(view='system', layers=('/nonexistent',)), ['true'], 'the build')\n"
              "except EnvironmentProblem as exc:\n    print(exc.exit_code, exc)\n")
    proc = subprocess.run(without_user_namespaces([sys.executable, "-c", script]), capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr
    uid, message = proc.stdout.split("\n", 1)
    assert uid == "65534"
    assert message.startswith("4 the build cannot have its build root: bubblewrap cannot create a sandbox here")
    assert "max_*_namespaces exceeded" in message  # the kernel's refusal, as bubblewrap reports it
    assert "allow user namespaces (sysctl kernel.unprivileged_userns_clone=1 and user.max_user_namespaces > 0" in message
