"""The host tools stream-build runs, the package each comes in, and the check made before anything runs.

A missing tool is found before the first lock, fetch or build (:func:`require`), and named
with the package that brings it on Debian and on Fedora, rather than discovered after
every component has built.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from typing import Iterable, List

from .errors import EnvironmentProblem

__all__ = ["Tool", "TOOLS", "STREAM_TOOLS", "missing", "require"]


@dataclass(frozen=True)
class Tool:
    """A command and the package that provides it."""

    command: str
    debian: str
    fedora: str

    def hint(self) -> str:
        return f"{self.command} (Debian: apt install {self.debian}; Fedora: dnf install {self.fedora})"


TOOLS = {tool.command: tool for tool in (
    Tool("git", "git", "git-core"),
    Tool("rpm", "rpm", "rpm"),
    Tool("rpmbuild", "rpm", "rpm-build"),
    Tool("rpmspec", "rpm", "rpm-build"),
    Tool("createrepo_c", "createrepo-c", "createrepo_c"),
    Tool("bwrap", "bubblewrap", "bubblewrap"),
    Tool("unshare", "util-linux", "util-linux-core"),
    Tool("mount", "mount", "util-linux-core"),
    Tool("mock", "mock", "mock"),
    Tool("buildah", "buildah", "buildah"),
)}

#: What every stream build runs whatever its backend: git (lock, sources), rpmspec (analysis)
#: and createrepo_c (publishing the stream's repository).
STREAM_TOOLS = ("git", "rpmspec", "createrepo_c")


def missing(commands: Iterable[str]) -> List[Tool]:
    """The tools among ``commands`` that are not on ``PATH``."""
    return [TOOLS.get(c, Tool(c, c, c)) for c in dict.fromkeys(commands) if shutil.which(c) is None]


def require(commands: Iterable[str], purpose: str) -> None:
    """Raise :class:`EnvironmentProblem` (exit 4) naming every missing tool and its package."""
    absent = missing(commands)
    if absent:
        raise EnvironmentProblem(
            f"{purpose} needs {'; '.join(tool.hint() for tool in absent)}, which "
            f"{'is' if len(absent) == 1 else 'are'} not installed (not on PATH); nothing was started"
        )
