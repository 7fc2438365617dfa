"""The ``installroot`` and ``host`` install targets."""

from __future__ import annotations

from typing import List

from ..install import InstallRequest, install
from ..plugins import hookimpl


class InstallrootTarget:
    name = "installroot"

    def install(self, request: InstallRequest) -> List[str]:
        return install(request)


class HostTarget:
    """Install on this machine (installroot ``/``)."""

    name = "host"

    def install(self, request: InstallRequest) -> List[str]:
        return install(InstallRequest(**{**request.__dict__, "installroot": "/"}))


@hookimpl
def streambuild_register(registry) -> None:  # type: ignore[no-untyped-def]
    registry.add_install_target("installroot", InstallrootTarget)
    registry.add_install_target("host", HostTarget)
