"""The base distribution a stream is built on (``fedora-44-x86_64``) and its rpm macros."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from .errors import Location, ManifestError

#: Fedora's development branch; its number is the one ahead of the newest release.
RAWHIDE_VERSION = 45

_BASE = re.compile(r"(?P<distro>fedora|centos-stream|rhel|epel)-(?P<release>rawhide|[0-9]{1,4})-(?P<arch>[a-z0-9_]+)\Z")
ARCHES = ("x86_64", "aarch64", "ppc64le", "s390x", "i686", "noarch")


#: Fedora's and EL's default Python 3 by release (what ``%python3_version`` is in their buildroots).
FEDORA_PYTHON = {35: "3.10", 36: "3.10", 37: "3.11", 38: "3.11", 39: "3.12", 40: "3.12", 41: "3.13", 42: "3.13",
                 43: "3.14", 44: "3.14"}
EL_PYTHON = {8: "3.6", 9: "3.9", 10: "3.12"}


@dataclass(frozen=True)
class Base:
    """A base distribution, release and architecture, such as Koji's ``fedora-44-x86_64``."""

    distro: str
    release: str
    arch: str

    @property
    def name(self) -> str:
        return f"{self.distro}-{self.release}-{self.arch}"

    @property
    def version(self) -> int:
        return RAWHIDE_VERSION if self.release == "rawhide" else int(self.release)

    @property
    def dist(self) -> str:
        if self.distro == "fedora":
            return f".fc{self.version}"
        return f".el{self.version}"

    @property
    def python3_version(self) -> str:
        """The base's default Python 3 (``3.14`` for Fedora 44): the X.Y of ``python3.X dist(...)``."""
        table = FEDORA_PYTHON if self.distro == "fedora" else EL_PYTHON
        if self.version in table:
            return table[self.version]
        newest = max(table)
        return table[newest] if self.version > newest else table[min(table)]

    def analysis_fallback(self) -> Tuple[Tuple[str, str], ...]:
        """Macros the base's buildroot defines that a host without its macro packages lacks: defined for
        analysis only where the host has none of that name (its own ``%python3_version`` wins)."""
        return (("python3_version", self.python3_version),)

    @property
    def releasever(self) -> str:
        return self.release

    @property
    def rpmdb(self) -> str:
        """Where this base's rpm keeps its database: ``/usr/lib/sysimage/rpm`` from Fedora 36 and
        EL 10 on (rawhide included), ``/var/lib/rpm`` before."""
        moved = self.version >= 36 if self.distro == "fedora" else self.version >= 10
        return "/usr/lib/sysimage/rpm" if moved else "/var/lib/rpm"

    def macros(self) -> Dict[str, str]:
        """The dist macros a spec sees when built for this base (what Fedora's redhat-rpm-config sets)."""
        macros = {"dist": self.dist}
        if self.distro == "fedora":
            macros.update({"fedora": str(self.version), f"fc{self.version}": "1"})
        else:
            macros.update({"rhel": str(self.version), f"el{self.version}": "1"})
            if self.distro == "epel":
                macros["epel"] = str(self.version)
        return macros


def parse_base(value: object, where: Optional[Location] = None) -> Base:
    if not isinstance(value, str):
        raise ManifestError("base must be a string like 'fedora-44-x86_64'", where)
    match = _BASE.match(value)
    if not match or match.group("arch") not in ARCHES:
        raise ManifestError(
            f"base {value!r} is not '<distro>-<release>-<arch>' with distro fedora, centos-stream, rhel "
            f"or epel, release a number or 'rawhide', and arch one of {', '.join(ARCHES)}",
            where,
        )
    return Base(match.group("distro"), match.group("release"), match.group("arch"))
