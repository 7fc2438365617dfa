"""Installing the stream's packages: with libdnf5 where it imports, DNF4 otherwise.

An install into the host (``/``) runs in this process with the host's own rpm
configuration. An install into any other root uses the root's own rpm database if it has
one, else the base's path (:mod:`streambuild.rootdb`), so that the result is the same
whoever installs and whatever their ``$HOME``. With DNF4 it runs in this process, rpm's
``%_dbpath`` defined for the install's time, as DNF's plugin does (:mod:`._foreign.dnf4`).
libdnf5 reads rpm's configuration itself when it sets up, so with libdnf5 the install runs
in a child process (``python -m streambuild.install``) whose rpm configuration files name
that path; the child asks the parent before changing anything: the transaction's NEVRAs go
up a pipe, the ``confirm`` answer comes back down, as DNF's own prompt would.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Dict, List, Mapping, Optional, Sequence

from . import rootdb
from .workdir import disk_full, is_disk_full
from .errors import (EXIT_BAD_INPUT, EXIT_ENVIRONMENT, EnvironmentProblem, InputError, InstallAborted, InstallError,
                     StreamBuildError)

STREAM_REPO_ID = "stream-build"


@dataclass(frozen=True)
class InstallRequest:
    packages: Sequence[str]
    stream_repo: str  # directory of the stream's repository
    installroot: str  # "/" for the host
    releasever: str
    cachedir: str
    extra_repos: Mapping[str, str] = field(default_factory=dict)
    confirm: Optional[Callable[[List[str]], bool]] = None
    rpmdb: str = "/usr/lib/sysimage/rpm"  # where a fresh root keeps its rpm database: the base's path


def dnf_api() -> str:
    """Which package manager API this interpreter has: ``libdnf5`` or ``dnf4``."""
    for name, module in (("libdnf5", "libdnf5"), ("dnf4", "dnf")):
        try:
            importlib.import_module(module)
            return name
        except ImportError:
            continue
    raise EnvironmentProblem(
        "neither libdnf5 nor DNF4's Python API can be imported; install python3-libdnf5 (Fedora) "
        "or python3-dnf (Debian, RHEL) and run stream-build with that interpreter "
        "(a virtual environment needs --system-site-packages)"
    )


def dnf_findable() -> str:
    """What :func:`dnf_api` answers, without importing either (the install into a root imports it in its own
    process); the same :class:`EnvironmentProblem` when neither is there."""
    for name, module in (("libdnf5", "libdnf5"), ("dnf4", "dnf")):
        try:
            if importlib.util.find_spec(module) is not None:
                return name
        except (ImportError, ValueError):
            continue
    return dnf_api()  # raises, saying what to install


def _module(api: str) -> Any:
    return importlib.import_module(f"streambuild._foreign.{'libdnf5' if api == 'libdnf5' else 'dnf4'}")


def install(request: InstallRequest) -> List[str]:
    """Install the requested packages from the stream repo (and extra repos); return NEVRAs."""
    if not os.path.exists(os.path.join(request.stream_repo, "repodata", "repomd.xml")):
        raise InputError("the stream has not been built yet: no stream repository (run 'stream-build build')")
    repos = {STREAM_REPO_ID: "file://" + os.path.abspath(request.stream_repo), **dict(request.extra_repos)}
    root = os.path.abspath(request.installroot)
    if root == "/":
        return list(_module(dnf_api()).install(request.packages, repos, root, request.releasever,
                                               request.cachedir, STREAM_REPO_ID, request.confirm))
    api = dnf_findable()  # with libdnf5 the child imports it: not here as well
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(root, "creating the installroot") from None
        raise EnvironmentProblem(f"cannot make the installroot {root}: {exc.strerror or exc}") from None
    dbpath = rootdb.dbpath_for(root, request.rpmdb)
    if api == "dnf4":
        return _install_here(dataclasses.replace(request, installroot=root), repos, dbpath)
    return _install_in_child(dataclasses.replace(request, installroot=root), repos, dbpath)


def _install_here(request: InstallRequest, repos: Mapping[str, str], dbpath: str) -> List[str]:
    """DNF4 in this process, rpm's ``%_dbpath`` defined as ``dbpath`` while it installs (then as before)."""
    return list(_module("dnf4").install(request.packages, repos, request.installroot, request.releasever,
                                        os.path.abspath(request.cachedir), STREAM_REPO_ID, request.confirm,
                                        dbpath=dbpath))


# -- an install into a root, in a process of its own ------------------------------


def _send(stream: IO[str], message: Mapping[str, Any]) -> None:
    stream.write(json.dumps(message) + "\n")
    stream.flush()


def _receive(stream: IO[str]) -> Dict[str, Any]:
    line = stream.readline()
    try:
        message = json.loads(line) if line.strip() else {}
    except ValueError:
        message = {}
    return message if isinstance(message, dict) else {}


def _install_in_child(request: InstallRequest, repos: Mapping[str, str], dbpath: str) -> List[str]:
    payload = {
        "packages": list(request.packages), "repos": dict(repos), "installroot": request.installroot,
        "releasever": request.releasever, "cachedir": os.path.abspath(request.cachedir),
        "provided_by": STREAM_REPO_ID, "confirm": request.confirm is not None, "dbpath": dbpath,
    }
    to_child_r, to_child_w = os.pipe()
    from_child_r, from_child_w = os.pipe()
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with rootdb.macros_environment(dbpath) as env, tempfile.TemporaryFile("w+", encoding="utf-8") as output:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "streambuild.install", str(to_child_r), str(from_child_w)],
                pass_fds=(to_child_r, from_child_w), stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, env=env,
            )
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        with os.fdopen(to_child_w, "w", encoding="utf-8") as down, \
                os.fdopen(from_child_r, "r", encoding="utf-8") as up:
            try:
                _send(down, payload)
                answer: Dict[str, Any] = {}
                while True:
                    answer = _receive(up)
                    if "confirm" in answer and request.confirm is not None:
                        _send(down, {"answer": bool(request.confirm(list(answer["confirm"])))})
                        continue
                    break
            finally:
                try:
                    down.close()  # a child still waiting for an answer reads "no"
                except OSError:
                    pass
                code = proc.wait()
        if code == 0 and isinstance(answer.get("installed"), list):
            return [str(item) for item in answer["installed"]]
        output.seek(0)
        lines = [line.strip() for line in output.read().splitlines() if line.strip()]
    message = str(answer.get("error") or (lines[-1][-600:] if lines else f"exit code {code}"))
    if answer.get("aborted"):
        raise InstallAborted(message)
    kind = {EXIT_BAD_INPUT: InputError, EXIT_ENVIRONMENT: EnvironmentProblem}.get(code, InstallError)
    raise kind(message)


def _child(argv: Sequence[str]) -> int:
    """``python -m streambuild.install IN_FD OUT_FD``: one install into a root, driven by the parent."""
    down = os.fdopen(int(argv[0]), "r", encoding="utf-8")
    up = os.fdopen(int(argv[1]), "w", encoding="utf-8")
    try:
        data = _receive(down)
        rootdb.require_dbpath(data["dbpath"], data["installroot"])

        def confirm(items: List[str]) -> bool:
            _send(up, {"confirm": items})
            return bool(_receive(down).get("answer"))

        installed = _module(dnf_api()).install(
            data["packages"], data["repos"], data["installroot"], data["releasever"], data["cachedir"],
            data["provided_by"], confirm if data["confirm"] else None,
        )
        _send(up, {"installed": list(installed)})
        return 0
    except StreamBuildError as exc:
        _send(up, {"error": str(exc), "aborted": isinstance(exc, InstallAborted)})
        return exc.exit_code
    except (ValueError, KeyError, TypeError) as exc:
        _send(up, {"error": f"bad install request: {exc}"})
        return EXIT_BAD_INPUT


if __name__ == "__main__":
    sys.exit(_child(sys.argv[1:]))
