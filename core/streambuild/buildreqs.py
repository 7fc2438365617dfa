"""What one build needs and where each requirement comes from: the stream, the host, or nowhere.

:func:`resolve` takes a component's exact BuildRequires (from its SRPM's header), the
headers of the stream RPMs it may use (the results of what it depends on) and the host,
and says for each requirement:

- ``stream``: a stream RPM provides it (rpm's own version rules, :mod:`_foreign.rpmlib`);
  that RPM, and the stream RPMs its own Requires pull in, go into the build root;
- ``host``: on an RPM host (Fedora, EL) an installed package provides it, read from the
  host's rpm database;
- ``assumed``: on a host whose packages are not RPMs (Debian), nothing can check it: it
  is taken as provided by the host's tools, and said so in the log and the summary;
- ``missing``: nothing provides it (on an RPM host), or the stream provides the name but
  not a version in range (a stream capability is never assumed from the host).

Rich dependencies (``(a or b)``, ``(x if y)``) are evaluated over the same answers. The
result, :class:`Resolution`, is what the local backend builds from and what the series
audit reads: frozen, and round-trips through JSON (a result stored with the build).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from functools import cmp_to_key
from typing import Any, Dict, Iterable, List, Mapping, Optional, Protocol, Sequence, Tuple

from ._foreign import rpmlib
from ._foreign.rpmlib import Capability, PackageHeader
from .capabilities import Dependency, SimpleDep, parse_dependency

__all__ = ["SOURCES", "Requirement", "Resolution", "Host", "RpmHost", "ForeignHost", "detect_host", "resolve",
           "save", "load", "RESOLUTION_FILE"]

#: The file, in a stored build result, that records its resolution.
RESOLUTION_FILE = "buildrequires.json"

#: Where a requirement can come from, best first.
SOURCES = ("stream", "host", "assumed", "missing")

_LABELS = {"stream": "stream", "host": "host", "assumed": "assumed from the host", "missing": "MISSING"}


@dataclass(frozen=True)
class Requirement:
    """One requirement and where it comes from."""

    text: str  # as rpm prints it: "tinyz-devel >= 2", "(a or b)", "/usr/bin/make"
    source: str  # one of SOURCES
    provider: str = ""  # the NEVRA(s) of what provides it (stream and host), else ""
    reason: str = ""  # for missing: why
    needed_by: str = ""  # runtime requirements: the stream package that requires it

    def to_json(self) -> Dict[str, str]:
        data = {"requirement": self.text, "source": self.source}
        for key in ("provider", "reason", "needed_by"):
            if getattr(self, key):
                data[key] = getattr(self, key)
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Requirement":
        return cls(str(data["requirement"]), str(data["source"]), str(data.get("provider", "")),
                   str(data.get("reason", "")), str(data.get("needed_by", "")))

    def line(self) -> str:
        detail = self.provider or self.reason
        if self.needed_by:
            detail = f"{detail} (needed by {self.needed_by})".strip()
        return f"  {self.text:40} {_LABELS[self.source]:22} {detail}".rstrip()


@dataclass(frozen=True)
class Resolution:
    """Where every requirement of one build comes from, and what its build root holds."""

    host: str  # what the host is, e.g. "Fedora Linux 44 (RPM host)" or "Debian GNU/Linux 12 (not an RPM host)"
    buildrequires: Tuple[Requirement, ...]
    runtime: Tuple[Requirement, ...] = ()  # Requires of the installed stream RPMs met outside the stream
    install: Tuple[str, ...] = field(default=())  # paths of the stream RPMs the build root gets
    installed: Tuple[str, ...] = ()  # their NEVRAs

    @property
    def ok(self) -> bool:
        return not self.missing

    @property
    def missing(self) -> Tuple[Requirement, ...]:
        return tuple(r for r in (*self.buildrequires, *self.runtime) if r.source == "missing")

    def of(self, source: str) -> Tuple[Requirement, ...]:
        """The BuildRequires that come from ``source``."""
        return tuple(r for r in self.buildrequires if r.source == source)

    @property
    def assumed(self) -> Tuple[str, ...]:
        """The BuildRequires taken as provided by the host, unchecked."""
        return tuple(r.text for r in self.of("assumed"))

    def lines(self) -> List[str]:
        """What the build log says about it."""
        out = [f"BuildRequires, on {self.host}:"]
        out += [r.line() for r in self.buildrequires] or ["  (none)"]
        if self.runtime:
            out.append("Requires of the stream packages in the build root, from outside the stream:")
            out += [r.line() for r in self.runtime]
        out.append("build root: " + (", ".join(self.installed) or "no stream packages") + " over the host's own")
        return out

    def to_json(self) -> Dict[str, Any]:
        return {
            "host": self.host,
            "buildrequires": [r.to_json() for r in self.buildrequires],
            "runtime": [r.to_json() for r in self.runtime],
            "installed": list(self.installed),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Resolution":
        return cls(
            str(data.get("host", "")),
            tuple(Requirement.from_json(r) for r in data.get("buildrequires", [])),
            tuple(Requirement.from_json(r) for r in data.get("runtime", [])),
            (),
            tuple(str(n) for n in data.get("installed", [])),
        )


# -- the host ------------------------------------------------------------------------


class Host(Protocol):
    """What the build host's own packages provide."""

    kind: str  # "rpm" (its packages are RPMs, in an rpm database) or "foreign" (they are not)
    description: str

    def provider(self, requirement: Capability) -> Optional[str]:
        """The NEVRA of an installed package that satisfies ``requirement``, or None."""


class RpmHost:
    """A host whose packages are RPMs: answers from its rpm database (or the one at ``dbpath``)."""

    kind = "rpm"

    def __init__(self, description: str = "", dbpath: Optional[str] = None) -> None:
        self.description = f"{description or _os_name()} (RPM host: its rpm database checked)"
        self._db = rpmlib.Database(dbpath)

    def provider(self, requirement: Capability) -> Optional[str]:
        if requirement.name.startswith("/"):
            owners = self._db.owners(requirement.name)
            return owners[0].nevra if owners else None
        for package in sorted(self._db.providers(requirement.name), key=lambda p: p.nevra):
            if any(rpmlib.overlaps(requirement, Capability.parse(p)) for p in package.provides):
                return package.nevra
        return None


class ForeignHost:
    """A host whose packages are not RPMs (Debian): nothing can be checked, so what is needed is assumed."""

    kind = "foreign"

    def __init__(self, description: str = "") -> None:
        self.description = f"{description or _os_name()} (not an RPM host: what the stream does not provide is assumed from the host)"

    def provider(self, requirement: Capability) -> Optional[str]:
        return None


def _os_name() -> str:
    try:
        with open("/etc/os-release", encoding="utf-8") as handle:
            for line in handle:
                key, _, value = line.strip().partition("=")
                if key == "PRETTY_NAME":
                    return value.strip().strip('"') or "this host"
    except OSError:
        pass
    return "this host"


def detect_host() -> Host:
    """An :class:`RpmHost` when this host's own rpm database knows the package holding ``rpm``, else foreign.

    On Fedora or EL rpm itself is an RPM, recorded in the database; on Debian rpm is a Debian
    package and the database (``$HOME/.rpmdb`` by Debian's default) knows nothing of it.
    """
    binary = shutil.which("rpm")
    if binary is not None and os.path.isdir(rpmlib.expand("%{_dbpath}")):  # opening a missing one would create it
        database = rpmlib.Database()
        try:
            known = database.owners(os.path.realpath(binary)) or database.owners(binary)
        finally:
            database.close()
        if known:
            return RpmHost()
    return ForeignHost()


# -- resolution ----------------------------------------------------------------------


def _worst(sources: Iterable[str]) -> str:
    return max(sources, key=SOURCES.index, default="stream")


class _Resolver:
    def __init__(self, stream: Sequence[PackageHeader], host: Host) -> None:
        self.host = host
        self.by_provide: Dict[str, List[Tuple[Capability, PackageHeader]]] = {}
        self.by_file: Dict[str, List[PackageHeader]] = {}
        for header in stream:
            if header.source:
                continue
            for text in header.provides:
                cap = Capability.parse(text)
                self.by_provide.setdefault(cap.name, []).append((cap, header))
            for path in header.files:
                self.by_file.setdefault(path, []).append(header)
        self.chosen: Dict[str, PackageHeader] = {}  # package name -> the stream RPM the build root gets

    def _best(self, candidates: Sequence[PackageHeader], wanted: str) -> PackageHeader:
        def order(a: PackageHeader, b: PackageHeader) -> int:
            for key in (lambda p: self.chosen.get(p.name) is p, lambda p: p.name == wanted):
                if key(a) != key(b):
                    return -1 if key(a) else 1
            newer = rpmlib.evr_compare(b.evr, a.evr)
            return newer or (-1 if a.nevra < b.nevra else int(a.nevra > b.nevra))

        return sorted(candidates, key=cmp_to_key(order))[0]

    def leaf(self, cap: Capability) -> Tuple[str, str, str, Optional[PackageHeader]]:
        """(source, provider, reason, the stream RPM) for one simple capability."""
        if cap.name.startswith("/"):
            candidates = self.by_file.get(cap.name, [])
            named: List[PackageHeader] = []
        else:
            named = [h for _, h in self.by_provide.get(cap.name, [])]
            candidates = [h for c, h in self.by_provide.get(cap.name, []) if rpmlib.overlaps(cap, c)]
        if candidates:
            header = self._best(candidates, cap.name)
            return "stream", header.nevra, "", header
        from_host = self.host.provider(cap)
        if from_host is not None:
            return "host", from_host, "", None
        if named:
            versions = ", ".join(sorted({str(c) for c, _ in self.by_provide[cap.name]}))
            return "missing", "", f"the stream provides only {versions}", None
        if self.host.kind == "foreign":
            return "assumed", "", "", None
        return "missing", "", "neither the stream nor this host's installed packages provide it", None

    def evaluate(self, node: Dependency) -> Tuple[bool, List[Tuple[str, str, str, Optional[PackageHeader]]]]:
        if isinstance(node, SimpleDep):
            result = self.leaf(Capability(node.name, node.operator, node.version))
            return result[0] != "missing", [result]
        op, operands = node.operator, node.operands
        if op == "or":
            results = [self.evaluate(o) for o in operands]
            for wanted in ("stream", "host", "assumed"):
                for ok, leaves in results:
                    if ok and _worst(leaf[0] for leaf in leaves) == wanted:
                        return True, leaves
            return False, [leaf for _, leaves in results for leaf in leaves]
        if op in ("and", "with"):
            results = [self.evaluate(o) for o in operands]
            return all(ok for ok, _ in results), [leaf for _, leaves in results for leaf in leaves]
        if op == "without":
            return self.evaluate(operands[0])
        if op in ("if", "unless"):
            then, condition = operands[0], operands[1]
            held, cond_leaves = self.evaluate(condition)
            held = held and all(leaf[0] in ("stream", "host") for leaf in cond_leaves)  # an assumption is no fact
            if held == (op == "if"):
                return self.evaluate(then)
            return self.evaluate(operands[2]) if len(operands) > 2 else (True, [])
        results = [self.evaluate(o) for o in operands]
        return all(ok for ok, _ in results), [leaf for _, leaves in results for leaf in leaves]

    def requirement(self, text: str, needed_by: str = "") -> Tuple[Requirement, List[PackageHeader]]:
        node = parse_dependency(text)
        if node is None:
            return Requirement(text, "stream", "", "", needed_by), []
        ok, leaves = self.evaluate(node)
        if not leaves:  # a condition that does not hold: nothing is needed
            return Requirement(text, "stream", "", "nothing needed: its condition does not hold", needed_by), []
        source = _worst(leaf[0] for leaf in leaves) if ok else "missing"
        providers = ", ".join(dict.fromkeys(leaf[1] for leaf in leaves if leaf[1]))
        reasons = "; ".join(dict.fromkeys(leaf[2] for leaf in leaves if leaf[2]))
        headers = [leaf[3] for leaf in leaves if leaf[3] is not None] if ok else []
        return Requirement(text, source, providers, reasons if source == "missing" else "", needed_by), headers

    def choose(self, headers: Iterable[PackageHeader]) -> List[PackageHeader]:
        new = []
        for header in headers:
            if header.name not in self.chosen:
                self.chosen[header.name] = header
                new.append(header)
        return new


def resolve(requires: Sequence[str], stream: Sequence[PackageHeader], host: Host) -> Resolution:
    """Where each of ``requires`` (a build's BuildRequires) comes from, and what its build root holds.

    :param stream: headers of the stream RPMs the build may use (source RPMs are ignored).
    :param host: the build host (:func:`detect_host`).
    """
    resolver = _Resolver(stream, host)
    buildrequires = []
    queue: List[PackageHeader] = []
    for text in dict.fromkeys(r for r in requires if not r.startswith("rpmlib(")):
        requirement, headers = resolver.requirement(text)
        buildrequires.append(requirement)
        queue += resolver.choose(headers)
    runtime: Dict[str, Requirement] = {}
    while queue:  # the stream RPMs' own Requires: from the stream when it can, recorded when not
        package = queue.pop(0)
        for text in package.requires:
            requirement, headers = resolver.requirement(text, package.nevra)
            queue += resolver.choose(headers)
            if requirement.source != "stream" and text not in runtime:
                runtime[text] = requirement
    chosen = sorted(resolver.chosen.values(), key=lambda h: h.nevra)
    return Resolution(
        host.description,
        tuple(buildrequires),
        tuple(runtime[t] for t in sorted(runtime)),
        tuple(h.path for h in chosen),
        tuple(h.nevra for h in chosen),
    )


def save(resolution: Resolution, directory: str) -> str:
    """Write ``resolution`` into a result directory; return the file's path."""
    path = os.path.join(directory, RESOLUTION_FILE)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(resolution.to_json(), handle, indent=2, sort_keys=True)
        handle.write("\n")
    return path


def load(directory: str) -> Optional[Resolution]:
    """The resolution stored in a result directory, or None (a result of a backend that makes none)."""
    try:
        with open(os.path.join(directory, RESOLUTION_FILE), encoding="utf-8") as handle:
            return Resolution.from_json(json.load(handle))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
