"""Every sandboxed command stream-build runs, in one place: bubblewrap (``bwrap``).

A sandbox sees the host's root read-only, a fresh ``/dev``, ``/proc`` and an empty
``/tmp``, no network (unless asked), none of the host's processes, and a clean
environment. Only the directories named ``writable`` can be written; directories that
the empty ``/tmp`` would hide (``readable``, the running interpreter and the project's own
code when they live under ``/tmp``) are bound back read-only. The sandboxed command dies
with stream-build (``--die-with-parent``) and cannot reach the terminal (``--new-session``).

Spec analysis runs here (rpm expands ``%(...)`` and ``%{lua:...}`` while parsing), and so do
the PEP 517 hooks that stand in for ``%generate_buildrequires``. Set ``STREAM_BUILD_SANDBOX=off``
to run such commands without bubblewrap on a host that cannot have it (trusted specs only:
this is printed as a warning each time).

Builds use two more things (:class:`Sandbox` ``view="system"`` and ``layers``):

- **the system view**: only the host's system directories (``/usr``, ``/etc``, ``/opt``,
  ``/var`` and the ``/bin``, ``/lib``… links) are there, read-only, plus what the sandbox
  names; home directories, ``/root``, ``/srv``, ``/mnt`` and the work directories of other
  builds are not. The root itself is read-only;
- **layers**: directory trees laid over the system directories, read-only, so that a file
  ``L/usr/include/x.h`` of a layer ``L`` is at ``/usr/include/x.h``, above the host's own
  (the files of the RPMs a build needs, installed into ``L``). Each layered directory is a
  kernel overlayfs mount (lower layers only: read-only) made in a private mount namespace
  (``unshare --mount``; for a user other than root, inside a user namespace with
  ``--map-root-user``, where Linux >= 5.11 allows overlayfs) at a mount point of the
  caller's, and bound into the sandbox by bubblewrap. The mounts exist only in that
  namespace: they vanish with the sandboxed command, whatever ends it, and the host's
  mount table never holds them. bubblewrap 0.8 (Debian 12) has no overlay options;
  bubblewrap >= 0.9 has, but one way everywhere is the way that is tested.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from . import procs
from .errors import EnvironmentProblem, InputError

__all__ = ["Sandbox", "available", "layers_available", "enabled", "command", "run", "DISABLE_VARIABLE",
           "SYSTEM_DIRS"]

#: The environment variable that turns the sandbox off (value ``off``).
DISABLE_VARIABLE = "STREAM_BUILD_SANDBOX"

_PROBE_LOCK = threading.Lock()
_PROBED: Dict[str, Optional[str]] = {}

#: What a sandboxed command finds in its environment (plus ``Sandbox.env``).
BASE_ENV: Mapping[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
}


#: Top-level directories of the host that the system view shows (and that layers may cover).
SYSTEM_DIRS = ("bin", "etc", "lib", "lib32", "lib64", "libx32", "opt", "sbin", "usr", "var")

#: Views of the host: its whole root, or only its system directories.
VIEWS = ("host", "system")

#: Runs in the private mount namespace: make each overlay mount, then exec bubblewrap.
#: Its arguments are data (option string, mount point pairs, ``--``, the command), never code.
_LAYER_SCRIPT = (
    'while [ "$1" != -- ]; do mkdir -p -- "$2" && mount -t overlay -o "$1" -- stream-build "$2" || exit 125; '
    'shift 2; done; shift; exec "$@"'
)

#: Characters overlayfs's mount options cannot carry in a directory name.
_OVERLAY_UNSAFE = frozenset(":,\\\n")


@dataclass(frozen=True)
class Sandbox:
    """How one command is confined.

    :param writable: host directories bound read-write at the same path (they must exist).
    :param readable: host paths bound read-only at the same path (in the host view, only
        those under ``/tmp``, which the empty ``/tmp`` would otherwise hide).
    :param network: share the host's network (default: a network namespace with only ``lo``).
    :param env: variables added to :data:`BASE_ENV`.
    :param chdir: the working directory inside (default ``/``).
    :param fedora_shell: ``/bin/sh`` is bash inside, as on Fedora (Debian's is dash, and Fedora's
        specs use bash in ``%(...)``: ``${c:0:7}``, ``${t,,}``).
    :param view: ``host`` (the host's whole root, read-only) or ``system`` (only its
        :data:`SYSTEM_DIRS`, read-only, on a read-only root).
    :param layers: directories whose trees are laid over the system directories, read-only,
        the first one on top (``system`` view only).
    :param mountpoints: an empty directory of the caller's for the overlay mount points
        (default: ``<first layer>.mnt``).
    :param tmp: a host directory bound at ``/tmp`` and ``/var/tmp`` (default: an empty
        ``/tmp`` in memory), so that what a build puts there counts on its own disk.
    :param hidden: host directories that appear empty (before ``readable`` and ``writable``
        are bound, so those can be inside them).
    :param files: ``(host file, path inside)`` pairs bound read-only over what the view has
        there (a build root's own ``/etc/ld.so.cache``).
    """

    writable: Tuple[str, ...] = ()
    readable: Tuple[str, ...] = ()
    network: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    chdir: Optional[str] = None
    fedora_shell: bool = False
    view: str = "host"
    layers: Tuple[str, ...] = ()
    mountpoints: Optional[str] = None
    tmp: Optional[str] = None
    hidden: Tuple[str, ...] = ()
    files: Tuple[Tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ValueError(f"view must be one of {VIEWS}, not {self.view!r}")
        if self.layers and self.view != "system":
            raise ValueError("layers need the system view")


def enabled() -> bool:
    """Whether sandboxing is on (it is unless ``STREAM_BUILD_SANDBOX=off``)."""
    return os.environ.get(DISABLE_VARIABLE, "").strip().lower() not in ("off", "0", "no", "false")


def available(bwrap: str = "bwrap") -> Optional[str]:
    """``None`` when bubblewrap runs here, else why not (probed once per process)."""
    with _PROBE_LOCK:
        if bwrap in _PROBED:
            return _PROBED[bwrap]
        path = shutil.which(bwrap)
        if path is None:
            reason: Optional[str] = (
                "bubblewrap is not installed (Debian: apt install bubblewrap; Fedora: dnf install bubblewrap)"
            )
        else:
            try:
                proc = subprocess.run(
                    [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
                     "--die-with-parent", "--", "true"],
                    capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
                )
                reason = None if proc.returncode == 0 else (
                    "bubblewrap cannot create a sandbox here ("
                    + (proc.stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}")
                    + "); user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1)"
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                reason = f"bubblewrap cannot run: {exc}"
        _PROBED[bwrap] = reason
        return reason


def _interpreter_paths() -> List[str]:
    """The running interpreter and every import path: a sandboxed ``python -m streambuild...`` needs them."""
    paths = [sys.prefix, sys.exec_prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    paths += [p for p in sys.path if p]
    return paths


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def _unshare(user_namespace: bool) -> List[str]:
    """The private mount namespace the overlay mounts are made in (``--user``: mapped to root inside)."""
    cmd = ["unshare"]
    if user_namespace:
        cmd += ["--user", "--map-root-user"]
    return cmd + ["--mount", "--propagation", "private", "--"]


def _probe_layers() -> Tuple[Optional[List[str]], Optional[str]]:
    """Find how layered sandboxes can be made here: (the namespace command, None) or (None, why not)."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return None, "unshare and mount (util-linux) are not installed"
    failures = []
    candidates = [False, True] if os.geteuid() == 0 else [True]
    with tempfile.TemporaryDirectory(prefix="stream-build-probe-") as top:
        layer = os.path.join(top, "layer")
        os.makedirs(os.path.join(layer, "usr"))
        probe = "/usr/.stream-build-layer-probe"
        with open(os.path.join(layer, probe.lstrip("/")), "w", encoding="utf-8") as handle:
            handle.write("layered\n")
        box = Sandbox(view="system", layers=(layer,), mountpoints=os.path.join(top, "mnt"))
        for user_namespace in candidates:
            prefix = _unshare(user_namespace)
            try:
                proc = subprocess.run(_command(box, ["test", "-e", probe], prefix), capture_output=True, timeout=30,
                                      stdin=subprocess.DEVNULL)
            except (OSError, subprocess.TimeoutExpired) as exc:
                failures.append(str(exc))
                continue
            if proc.returncode == 0:
                return prefix, None
            failures.append(proc.stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}")
    return None, (
        "the build root needs overlay mounts in a private mount namespace, and this host refuses them ("
        + "; ".join(dict.fromkeys(failures)) + "): " + _LAYERS_ADVICE
    )


_LAYERS: Dict[str, Tuple[Optional[List[str]], Optional[str]]] = {}


#: What to do when a build root cannot be made here.
_LAYERS_ADVICE = ("run stream-build as root, or allow user namespaces (sysctl kernel.unprivileged_userns_clone=1 "
                  "and user.max_user_namespaces > 0; Linux >= 5.11 for overlayfs in them), or build with "
                  "--backend mock")


def layers_available() -> Optional[str]:
    """``None`` when sandboxes with ``layers`` can be made here, else why not and what to do (probed once)."""
    reason = available()
    if reason is not None:
        return f"{reason}; {_LAYERS_ADVICE}"
    with _PROBE_LOCK:
        if "probe" not in _LAYERS:
            _LAYERS["probe"] = _probe_layers()
        return _LAYERS["probe"][1]


def command(sandbox: Sandbox, argv: Sequence[str], what: str = "a sandboxed command") -> List[str]:
    """The command line that runs ``argv`` confined as ``sandbox`` says.

    With the sandbox turned off (:func:`enabled`), ``argv`` itself, after a warning on stderr
    (a sandbox with ``layers`` cannot be turned off: it is refused instead).
    Raises :class:`EnvironmentProblem` (exit 4) when bubblewrap is needed and cannot run, or
    when ``layers`` are asked for and this host cannot make them.
    """
    if sandbox.layers:  # a build root: no way around the sandbox
        if not enabled():
            raise EnvironmentProblem(
                f"{what} needs its build root, which only a sandbox can give; unset {DISABLE_VARIABLE} "
                "(or build with --backend mock)"
            )
        reason = layers_available()
        if reason is not None:
            raise EnvironmentProblem(f"{what} cannot have its build root: {reason}")
        return _command(sandbox, argv, list(_LAYERS["probe"][0] or []))
    if not enabled():
        sys.stderr.write(f"stream-build: warning: {DISABLE_VARIABLE}=off: {what} runs without a sandbox\n")
        return list(argv)
    reason = available()
    if reason is not None:
        raise EnvironmentProblem(
            f"{what} must run in a sandbox, but {reason}; set {DISABLE_VARIABLE}=off to run it "
            "unconfined (only for specs you trust)"
        )
    return _command(sandbox, argv, [])


def _check_overlay_path(path: str) -> str:
    if any(ch in _OVERLAY_UNSAFE for ch in path):
        raise InputError(
            f"{path}: overlayfs cannot take a directory whose path has ':', ',', '\\' or a newline; "
            "move the work directory (--workdir)"
        )
    return path


def _system_root(sandbox: Sandbox) -> Tuple[List[str], List[str]]:
    """The overlay mount arguments and the bubblewrap binds of the system view with its layers."""
    mounts: List[str] = []
    binds: List[str] = []
    stage = sandbox.mountpoints or (sandbox.layers[0].rstrip("/") + ".mnt" if sandbox.layers else "")
    names = [n for n in SYSTEM_DIRS if os.path.lexists("/" + n)]
    names += [n for n in SYSTEM_DIRS if n not in names and any(os.path.isdir(os.path.join(l, n)) for l in sandbox.layers)]
    for name in names:
        host = "/" + name
        if os.path.islink(host):
            binds += ["--symlink", os.readlink(host), host]
            continue
        lowers = [os.path.join(layer, name) for layer in sandbox.layers]
        lowers = [d for d in lowers if os.path.isdir(d) and not os.path.islink(d)]
        if os.path.isdir(host):
            lowers.append(host)
        if len(lowers) == 1:
            binds += ["--ro-bind", lowers[0], host]
            continue
        point = os.path.join(stage, name)
        options = "ro,lowerdir=" + ":".join(_check_overlay_path(os.path.realpath(d)) for d in lowers)
        mounts += [options, _check_overlay_path(os.path.realpath(os.path.dirname(point)) + "/" + name)]
        binds += ["--ro-bind", mounts[-1], host]
    return mounts, binds


def _command(sandbox: Sandbox, argv: Sequence[str], prefix: Sequence[str]) -> List[str]:
    mounts: List[str] = []
    if sandbox.view == "host":
        cmd = ["bwrap", "--ro-bind", "/", "/"]
    else:
        mounts, binds = _system_root(sandbox)
        cmd = ["bwrap", *binds]
    cmd += ["--dev", "/dev", "--proc", "/proc"]
    if sandbox.tmp is not None:
        tmp = os.path.realpath(sandbox.tmp)
        cmd += ["--bind", tmp, "/tmp", "--bind", tmp, "/var/tmp"]
    else:
        cmd += ["--tmpfs", "/tmp"]
    cmd += ["--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    if sandbox.network:
        cmd.append("--share-net")
    for path in sandbox.hidden:
        real = os.path.realpath(path)
        shown = sandbox.view == "host" or real.split("/")[1] in SYSTEM_DIRS  # the system view shows no other
        if shown and os.path.isdir(real):
            cmd += ["--tmpfs", real]
    seen = set()
    extra = _interpreter_paths() if sandbox.view == "host" else []
    for path in [*sandbox.readable, *extra]:
        real = os.path.realpath(path)
        for candidate in {path, real}:
            if candidate in seen or not os.path.exists(candidate):
                continue
            if sandbox.view == "host" and not _under(candidate, "/tmp"):
                continue
            seen.add(candidate)
            cmd += ["--ro-bind", candidate, candidate]
    for path in sandbox.writable:
        real = os.path.realpath(path)
        cmd += ["--bind", real, real]
        if real != path and _under(path, "/tmp"):
            cmd += ["--bind", real, path]
    if sandbox.fedora_shell:
        shell, bash = os.path.realpath("/bin/sh"), shutil.which("bash")
        if bash and os.path.basename(shell) != "bash":
            cmd += ["--ro-bind", os.path.realpath(bash), shell]
    for source, target in sandbox.files:
        cmd += ["--ro-bind", os.path.realpath(source), target]
    if sandbox.view == "system":
        cmd += ["--remount-ro", "/"]
    for name, value in {**BASE_ENV, **dict(sandbox.env)}.items():
        cmd += ["--setenv", name, value]
    cmd += ["--chdir", sandbox.chdir or "/", "--", *argv]
    if not mounts:
        return cmd
    return [*prefix, "/bin/sh", "-c", _LAYER_SCRIPT, "stream-build-layers", *mounts, "--", *cmd]


def run(sandbox: Sandbox, argv: Sequence[str], what: str, timeout: float,
        stdin: Optional[bytes] = None) -> Optional["subprocess.CompletedProcess[bytes]"]:
    """Run ``argv`` confined, its output captured; ``None`` when it is still running after ``timeout`` s.

    A command that overstays is killed with everything it started (its own session, and
    bubblewrap's ``--die-with-parent``).
    """
    cmd = command(sandbox, argv, what)
    try:  # a process group of its own, which dies with stream-build (procs) and is killed whole on a timeout
        proc = procs.popen(cmd, group=True, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{what}: cannot start {cmd[0]}: {exc.strerror}") from None
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.communicate()
        return None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
