"""Installing through DNF4's Python API (``import dnf``; Debian's and RHEL's python3-dnf)."""

from __future__ import annotations

from typing import Callable, List, Mapping, Optional, Sequence

import dnf  # type: ignore[import-not-found]
import dnf.exceptions  # type: ignore[import-not-found]

from ..errors import InputError, InstallAborted, InstallError


def install(
    packages: Sequence[str],
    repos: Mapping[str, str],
    installroot: str,
    releasever: str,
    cachedir: str,
    provided_by: str,
    confirm: Optional[Callable[[List[str]], bool]] = None,
) -> List[str]:
    """Install ``packages`` and their runtime dependencies; return the NEVRAs installed.

    :param repos: repository id -> baseurl.
    :param provided_by: the repository id every requested package must come from.
    :param confirm: called with the transaction's NEVRAs; a false answer aborts before anything is installed.
    """
    base = dnf.Base()
    try:
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
            try:
                base.install(name, reponame=provided_by)
            except dnf.exceptions.MarkingError as exc:
                raise InstallError(f"cannot mark {name} for installation: {exc}") from None
        try:
            base.resolve()
        except dnf.exceptions.DepsolveError as exc:
            raise InstallError(f"dependencies cannot be resolved: {exc}") from None
        items = sorted(str(pkg) for pkg in base.transaction.install_set)
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
