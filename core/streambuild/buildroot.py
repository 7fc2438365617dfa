"""The dependency tree of one build root: the stream RPMs a build needs, installed with their files.

The tree holds only what the build needs from the stream (chosen by
:func:`streambuild.buildreqs.resolve`), installed by rpm itself (``rpm --root TREE -i``,
scriptlets off) so that every file is at its real path: a header at
``TREE/usr/include``, a shared library at ``TREE/usr/lib64`` with its soname link, a
Python module under ``TREE/usr/lib/python3…``. The sandbox lays the tree over the host's
system directories (:class:`streambuild.sandbox.Sandbox` ``layers``), so the build sees the
stream's files above the host's own; nothing is written to the host.

The tree's rpm database is at ``TREE/.stream-build-rpmdb``, outside the directories that
are laid over the host, so the host's own database is what the build's ``rpm`` sees. The
host's top-level links (``/lib -> usr/lib`` on a merged-/usr host) are made in the tree
first, so that files packaged under ``/lib`` land where the host's ``/lib`` points.

rpm needs to ``chroot`` into the tree: as root it runs as it is; as any other user it runs
as root of a user namespace of its own (``unshare --user --map-root-user``), owning
nothing outside it.
"""

from __future__ import annotations

import os
import threading
from typing import IO, List, Optional, Sequence

from .backends import run_logged
from .sandbox import SYSTEM_DIRS

__all__ = ["DBPATH", "make_tree"]

#: Where the tree keeps its own rpm database (relative to the tree; not laid over the host).
DBPATH = "/.stream-build-rpmdb"


def _as_root() -> List[str]:
    return [] if os.geteuid() == 0 else ["unshare", "--user", "--map-root-user", "--"]


def make_tree(tree: str, rpms: Sequence[str], log: IO[str], cancel: Optional[threading.Event] = None) -> int:
    """Create ``tree`` holding ``rpms`` installed; return rpm's exit code (0 when there is nothing to install)."""
    os.makedirs(tree)
    for name in SYSTEM_DIRS:
        host = "/" + name
        if os.path.islink(host):
            target = os.readlink(host)
            os.symlink(target, os.path.join(tree, name))
            if not os.path.isabs(target):  # rpm follows a link to a directory only when that directory is there
                os.makedirs(os.path.join(tree, target), exist_ok=True)
    if not rpms:
        return 0
    cmd = [*_as_root(), "rpm", "--root", tree, "--dbpath", DBPATH, "-i", "--nodeps", "--noscripts", "--notriggers",
           "--ignorearch", "--ignoreos", "--nosignature", "--", *rpms]
    return run_logged(cmd, log, cancel=cancel)
