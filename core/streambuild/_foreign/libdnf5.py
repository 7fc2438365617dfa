"""Installing through libdnf5's Python bindings (Fedora 41 and later).

Written against libdnf5's documented Python API; it cannot be exercised on Debian
12, which has no libdnf5 (see README, "What is not tested").

What it installs is what the DNF4 path installs (:mod:`._foreign.dnf4`): ``add_rpm_install``
of a package installed at an older version upgrades it to the stream's, and the NEVRAs
reported are the transaction's inbound packages only (an upgrade also removes the old
version: that one is not "installed").
"""

from __future__ import annotations

from typing import Callable, List, Mapping, Optional, Sequence

import libdnf5

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
    """Same contract as :func:`streambuild._foreign.dnf4.install`."""
    base = libdnf5.base.Base()
    config = base.get_config()
    config.installroot = installroot
    config.cachedir = cachedir
    config.reposdir = []
    config.pkg_gpgcheck = False
    config.install_weak_deps = False
    base.get_vars().set("releasever", releasever)
    base.setup()
    sack = base.get_repo_sack()
    for repo_id, url in repos.items():
        repo = sack.create_repo(repo_id)
        repo.get_config().baseurl = [url]
    sack.load_repos()
    for name in packages:
        query = libdnf5.rpm.PackageQuery(base)
        query.filter_available()
        query.filter_name([name])
        query.filter_repo_id([provided_by])
        if query.empty():
            raise InputError(f"package {name!r} is not provided by the stream (repository {provided_by})")
    goal = libdnf5.base.Goal(base)
    settings = libdnf5.base.GoalJobSettings()
    settings.set_to_repo_ids([provided_by])
    for name in packages:
        goal.add_rpm_install(name, settings)
    transaction = goal.resolve()
    if transaction.get_problems() != libdnf5.base.GoalProblem_NO_PROBLEM:
        raise InstallError("dependencies cannot be resolved: " + "; ".join(transaction.get_resolve_logs_as_strings()))
    items = inbound(transaction)
    if not items:
        return []
    if confirm is not None and not confirm(items):
        raise InstallAborted()
    transaction.download()
    transaction.set_description("stream-build install")
    result = transaction.run()
    if result != libdnf5.base.Transaction.TransactionRunResult_SUCCESS:
        raise InstallError("the transaction failed: " + "; ".join(transaction.get_transaction_problems()))
    return items


def inbound(transaction: "libdnf5.base.Transaction") -> List[str]:
    """The NEVRAs a resolved transaction brings in: its inbound actions (install, upgrade, downgrade,
    reinstall), not the packages it replaces or removes."""
    return sorted(item.get_package().get_nevra() for item in transaction.get_transaction_packages()
                  if libdnf5.transaction.transaction_item_action_is_inbound(item.get_action()))
