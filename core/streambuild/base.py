"""The base distribution a stream is built on (``fedora-44-x86_64``) and its rpm macros.

A base names its release (``fedora-44``), except Fedora's development branch, ``rawhide``,
whose number moves: it is the next release's, one ahead of the newest branched one, and it
goes up when Fedora branches a release from rawhide, in February and in August. Where it comes
from, first found first:

1. ``$STREAM_BUILD_RAWHIDE_VERSION`` (a number), when set;
2. the base's own metadata, when the manifest lists ``base_repos``: the newest ``.fcNN`` its
   packages' releases name (:func:`streambuild.stream.Stream.plan` sets it with
   :meth:`Base.with_number`), so a stream built on rawhide gets rawhide's ``%fedora`` and ``%dist``;
3. Fedora's schedule (:func:`scheduled_rawhide`): 40 until Fedora 40 branched in February 2024,
   one more at each branching since (46 from August 2026 on) — an estimate, said as one.
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, replace
from typing import Dict, Optional, Tuple

from .errors import InputError, Location, ManifestError

RAWHIDE_ENV = "STREAM_BUILD_RAWHIDE_VERSION"
#: Rawhide's number before Fedora 40 branched (February 2024); it goes up by one at each branching.
_RAWHIDE_2024 = 40


def scheduled_rawhide(today: Optional[datetime.date] = None) -> int:
    """Rawhide's number by Fedora's schedule: a release branches from rawhide in February and August."""
    today = today or datetime.date.today()
    halves = (today.year - 2024) * 2 + (0 if today.month < 2 else 1 if today.month < 8 else 2)
    return _RAWHIDE_2024 + halves


def rawhide_version(env: Optional[Dict[str, str]] = None) -> int:
    """Rawhide's number without the base's metadata: ``$STREAM_BUILD_RAWHIDE_VERSION``, else the schedule's."""
    value = (os.environ if env is None else env).get(RAWHIDE_ENV, "").strip()
    if not value:
        return scheduled_rawhide()
    if not value.isdigit() or not 30 <= int(value) <= 9999:
        raise InputError(f"${RAWHIDE_ENV}={value!r} is not a Fedora release number")
    return int(value)

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
    number: Optional[int] = None  # rawhide's number as the base's metadata names it (see the module docstring)

    @property
    def name(self) -> str:
        return f"{self.distro}-{self.release}-{self.arch}"

    @property
    def version(self) -> int:
        if self.release != "rawhide":
            return int(self.release)
        return self.number if self.number is not None else rawhide_version()

    def with_number(self, number: Optional[int]) -> "Base":
        """This base with rawhide's number from its metadata (an explicit ``$STREAM_BUILD_RAWHIDE_VERSION`` wins)."""
        if self.release != "rawhide" or number is None or os.environ.get(RAWHIDE_ENV, "").strip():
            return self
        return replace(self, number=number)

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
