"""Installing through DNF4's Python API (``import dnf``; Debian's and RHEL's python3-dnf).

Used by stream-build's own installs (:func:`install`) and by ``dnf stream-build install``
(DNF's plugin, which hands its Base to :func:`add_repos` and :func:`mark_install`), so both
mark the same way. A requested package that is installed at an older version is upgraded
to the stream's, as libdnf5's ``add_rpm_install`` does (:mod:`._foreign.libdnf5`); one that
is installed at the stream's version or a newer one is left alone (never a downgrade).
"""

from __future__ import annotations

import gc
from typing import Callable, List, Mapping, Optional, Sequence

import dnf
import dnf.exceptions

from ..errors import InputError, InstallAborted, InstallError


def install(
    packages: Sequence[str],
    repos: Mapping[str, str],
    installroot: str,
    releasever: str,
    cachedir: str,
    provided_by: str,
    confirm: Optional[Callable[[List[str]], bool]] = None,
    dbpath: Optional[str] = None,
) -> List[str]:
    """Install ``packages`` and their runtime dependencies; return the NEVRAs installed.

    :param repos: repository id -> baseurl.
    :param provided_by: the repository id every requested package must come from.
    :param confirm: called with the transaction's NEVRAs; a false answer aborts before anything is installed.
    :param dbpath: the rpm database path inside ``installroot``, defined for the install's time
        (after DNF has read rpm's configuration, which it does when its Base is made).
    """
    from .. import rootdb
    from . import rpmlib

    # DNF's Base runs the collector as it resets (twice an install); what this process holds already
    # (its modules, DNF's) lives on, so the collector is told to look at what is made from here on.
    gc.freeze()
    base = dnf.Base()
    if dbpath is not None:
        rpmlib.define("_dbpath", dbpath)
    try:
        if dbpath is not None:
            rootdb.require_dbpath(dbpath, installroot)
        conf = base.conf
        conf.installroot = installroot
        conf.cachedir = cachedir
        conf.reposdir = []
        conf.gpgcheck = False
        conf.install_weak_deps = False
        conf.substitutions["releasever"] = releasever
        for repo_id, url in repos.items():
            base.repos.add_new_repo(repo_id, conf, baseurl=[url], gpgcheck=False, metadata_expire=0)
        try:
            base.fill_sack(load_system_repo=True, load_available_repos=True)
        except dnf.exceptions.RepoError as exc:
            raise InstallError(f"cannot load the repositories: {exc}") from None
        available = base.sack.query().available()
        for name in packages:
            if not available.filter(name=name, reponame=provided_by):
                raise InputError(f"package {name!r} is not provided by the stream (repository {provided_by})")
        mark_install(base, packages, provided_by)
        try:
            base.resolve()
        except dnf.exceptions.DepsolveError as exc:
            raise InstallError(f"dependencies cannot be resolved: {exc}") from None
        items = inbound(base)
        if not items:
            return []
        if confirm is not None and not confirm(items):
            raise InstallAborted()
        base.download_packages(list(base.transaction.install_set))
        try:
            base.do_transaction()
        except dnf.exceptions.Error as exc:
            raise InstallError(f"the transaction failed: {exc}") from None
        return items
    finally:
        base.close()
        gc.unfreeze()
        if dbpath is not None:
            rpmlib.undefine("_dbpath")


def mark_install(base: "dnf.Base", packages: Sequence[str], provided_by: str) -> None:
    """Mark ``packages`` for installation from the repository ``provided_by``: installed at an older
    version, upgraded to the stream's (see the module docstring)."""
    installed = base.sack.query().installed()
    for name in packages:
        try:
            if installed.filter(name=name):
                base.upgrade(name, reponame=provided_by)
            else:
                base.install(name, reponame=provided_by)
        except dnf.exceptions.MarkingError as exc:
            raise InstallError(f"cannot install {name} from the stream: {exc}") from None


def inbound(base: "dnf.Base") -> List[str]:
    """The NEVRAs the resolved transaction brings in (installs and upgrades; never what it removes)."""
    return sorted(str(pkg) for pkg in base.transaction.install_set) if base.transaction else []


def add_repos(base: "dnf.Base", repos: Mapping[str, str], stream_repo_id: str) -> None:
    """Add the stream's repository (``stream_repo_id``, unsigned, always fresh) and the base's to ``base``."""
    for repo_id, url in repos.items():
        extra = {"gpgcheck": False} if repo_id == stream_repo_id else {}
        base.repos.add_new_repo(repo_id, base.conf, baseurl=[url], metadata_expire=0, **extra)


def use_root_database(installroot: str, base_rpmdb: str) -> None:
    """Point DNF's rpm at the root's database: its own if it has one, else where the stream's base keeps it
    (:func:`streambuild.rootdb.dbpath_for`), whatever this host's rpm default (Debian's is ``$HOME/.rpmdb``).
    DNF has read rpm's configuration by the time a command configures, so the macro stays for its transaction."""
    from .. import rootdb
    from . import rpmlib

    rpmlib.define("_dbpath", rootdb.dbpath_for(installroot, base_rpmdb))
