"""Installing the stream's packages: with libdnf5 where it imports, DNF4 otherwise."""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass, field
from typing import Callable, List, Mapping, Optional, Sequence

from .errors import EnvironmentProblem, InputError

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


def install(request: InstallRequest) -> List[str]:
    """Install the requested packages from the stream repo (and extra repos); return NEVRAs."""
    if not os.path.exists(os.path.join(request.stream_repo, "repodata", "repomd.xml")):
        raise InputError("the stream has not been built yet: no stream repository (run 'stream-build build')")
    api = dnf_api()
    module = importlib.import_module(f"streambuild._foreign.{'libdnf5' if api == 'libdnf5' else 'dnf4'}")
    repos = {STREAM_REPO_ID: "file://" + os.path.abspath(request.stream_repo), **dict(request.extra_repos)}
    os.makedirs(request.installroot, exist_ok=True)
    return module.install(
        request.packages,
        repos,
        os.path.abspath(request.installroot),
        request.releasever,
        request.cachedir,
        STREAM_REPO_ID,
        request.confirm,
    )
