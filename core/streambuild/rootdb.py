"""Where a root keeps its rpm database, whoever installs into it.

rpm finds its database through the ``%_dbpath`` macro, relative to ``--root``. The host's
rpm decides the default, and hosts disagree: Fedora's says ``/usr/lib/sysimage/rpm``,
older Fedora and EL say ``/var/lib/rpm``, Debian's rpm says ``$HOME/.rpmdb``, so the same
installroot filled by two users (or by one user with two ``$HOME``) would get two databases
and Fedora's tools would find neither. A root made by stream-build is Fedora-shaped instead:

- a root that already has a database keeps it (:func:`existing_dbpath`: an rpm database
  directory, else what the root's own rpm macros say, as in an image);
- a fresh root gets its base's path (:attr:`streambuild.base.Base.rpmdb`).

DNF4 and libdnf5 read rpm's configuration themselves (``rpmReadConfigFiles``), which
drops any macro set in the process beforehand; the last file they read is
``~/.rpmmacros``. So an install into a root runs in a process of its own whose ``$HOME``
holds a macros file naming the database (:func:`macros_environment`); the installroot,
host-side container and build-root installs all go through it.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from typing import Dict, Iterator, Mapping, Optional

from .errors import EnvironmentProblem

__all__ = ["DB_DIRS", "existing_dbpath", "dbpath_for", "macros_environment"]

#: Database directories rpm has used, newest first.
DB_DIRS = ("/usr/lib/sysimage/rpm", "/var/lib/rpm")

_DBPATH_LINE = re.compile(r"^%_dbpath\s+(\S+)\s*$", re.MULTILINE)
_DIR_MACROS = {"%{_usr}": "/usr", "%{_prefix}": "/usr", "%{_var}": "/var", "%{_localstatedir}": "/var"}


def existing_dbpath(root: str) -> Optional[str]:
    """The database path a root already uses, or None when it has neither a database nor rpm.

    An existing database directory wins (Fedora's ``/usr/lib/sysimage/rpm``, older
    ``/var/lib/rpm``, which may be a link to it); otherwise the root's own rpm macros say.
    """
    for candidate in DB_DIRS:
        path = os.path.join(root, candidate.lstrip("/"))
        if os.path.isdir(path) and not os.path.islink(path):
            return candidate
    found: Optional[str] = None
    macro_files = [os.path.join(root, "usr/lib/rpm/macros")]
    for directory in ("usr/lib/rpm/macros.d", "etc/rpm"):
        full = os.path.join(root, directory)
        if os.path.isdir(full) and not os.path.islink(full):
            macro_files += sorted(os.path.join(full, name) for name in os.listdir(full) if name.startswith("macros"))
    for path in macro_files:
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                matches = _DBPATH_LINE.findall(handle.read())
        except OSError:
            continue
        if matches:
            found = matches[-1]  # later files win, as in rpm
    if found is None:
        return None
    for macro, value in _DIR_MACROS.items():
        found = found.replace(macro, value)
    return found if found.startswith("/") and "%" not in found else None  # a macro not expanded here: no guess


def dbpath_for(root: str, default: str) -> str:
    """The database path to use in ``root``: its own when it has one, else ``default`` (the base's)."""
    if not default.startswith("/") or any(ch.isspace() or ch == "%" for ch in default):
        raise ValueError(f"not an absolute database path: {default!r}")
    return existing_dbpath(root) or default


def require_dbpath(dbpath: str, installroot: str) -> None:
    """Refuse to go on when this process's rpm does not use ``dbpath`` (a configuration insisting on its own)."""
    from ._foreign import rpmlib

    configured = rpmlib.expand("%{_dbpath}")
    if configured != dbpath:
        raise EnvironmentProblem(
            f"cannot point rpm at {dbpath} in {installroot}: this host's rpm "
            f"configuration insists on %_dbpath {configured}"
        )


@contextlib.contextmanager
def macros_environment(dbpath: str, environ: Optional[Mapping[str, str]] = None) -> Iterator[Dict[str, str]]:
    """An environment whose rpm uses ``dbpath``: ``$HOME`` (and ``$XDG_CONFIG_HOME``) in a temporary
    directory holding only that macro. The directory is removed on exit."""
    if not dbpath.startswith("/") or any(ch.isspace() or ch == "%" for ch in dbpath):
        raise ValueError(f"not an absolute database path: {dbpath!r}")
    env = dict(os.environ if environ is None else environ)
    with tempfile.TemporaryDirectory(prefix="stream-build-rpm-") as home:
        line = f"%_dbpath {dbpath}\n"
        config = os.path.join(home, ".config")
        os.makedirs(os.path.join(config, "rpm"))
        for path in (os.path.join(home, ".rpmmacros"), os.path.join(config, "rpm", "macros")):
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(line)
        env["HOME"] = home
        env["XDG_CONFIG_HOME"] = config
        yield env

