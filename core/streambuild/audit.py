"""The series audit: for every build, which BuildRequires the stream met and which the base did.

A stream exists so that its components are built against each other: torchvision against the
stream's torch 2.11, not the base's 2.9. The audit reads each build's exact BuildRequires and
the real Provides of the stream's RPMs that were in its buildroot; what they did not meet came
from the base (or, on a host whose packages are not RPMs, was assumed from the host). A
requirement met from outside the stream that the stream itself provides is a finding: the
component was built against the wrong series, typically because a cycle was broken there or
because an edge was learned too late to wait for.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from .baserepo import BaseProvides
from .buildreqs import Requirement, Resolution
from .capabilities import leaves, parse_dependency
from .providers import ProviderIndex

__all__ = ["Met", "ComponentAudit", "audit_build"]


@dataclass(frozen=True)
class Met:
    """How one BuildRequires was met: ``by`` is ``stream``, ``base``, ``host`` (an RPM host's package), or
    ``outside`` (assumed from a host whose packages are not RPMs, or unknown)."""

    requirement: str
    by: str
    component: str = ""  # the stream component, when by == "stream"
    provide: str = ""  # what met it: the stream's provide, or the base package (name-evr)


@dataclass(frozen=True)
class ComponentAudit:
    component: str
    met: Tuple[Met, ...]
    findings: Tuple[str, ...]

    @property
    def from_stream(self) -> Tuple[Met, ...]:
        return tuple(m for m in self.met if m.by == "stream")

    @property
    def from_outside(self) -> Tuple[Met, ...]:
        return tuple(m for m in self.met if m.by != "stream")

    def to_json(self) -> Dict[str, Any]:
        return {
            "component": self.component,
            "stream": [{"requirement": m.requirement, "component": m.component, "provide": m.provide}
                       for m in self.from_stream],
            "outside": [{"requirement": m.requirement, "by": m.by, "provide": m.provide} for m in self.from_outside],
            "findings": list(self.findings),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ComponentAudit":
        met = [Met(str(m["requirement"]), "stream", str(m.get("component", "")), str(m.get("provide", "")))
               for m in data.get("stream", [])]
        met += [Met(str(m["requirement"]), str(m.get("by", "outside")), "", str(m.get("provide", "")))
                for m in data.get("outside", [])]
        return cls(str(data["component"]), tuple(met), tuple(str(f) for f in data.get("findings", [])))


def _outside(requirement: str, base: Optional[BaseProvides]) -> Met:
    node = parse_dependency(requirement)
    if base is not None and node is not None:
        for leaf in leaves(node):
            found = base.providers(leaf)
            if found:
                return Met(requirement, "base", "", f"{found[-1].name} {found[-1].evr}")
            if base.satisfies(leaf):
                return Met(requirement, "base", "", leaf.name)
    return Met(requirement, "outside")


def audit_build(
    component: str,
    requirements: Sequence[str],
    buildroot: ProviderIndex,
    stream: ProviderIndex,
    versions: Mapping[str, str],
    base: Optional[BaseProvides] = None,
    host_label: str = "the host",
    resolution: Optional[Resolution] = None,
) -> ComponentAudit:
    """Audit one build.

    :param buildroot: the real Provides of the stream RPMs that were in the build's buildroot.
    :param stream: the best-known Provides of every component of the stream.
    :param versions: each component's version-release, for the findings.
    :param host_label: what "outside" was in this build ("the host" for the local backend on Debian).
    :param resolution: the backend's own account of where each BuildRequires came from (the
        local backend's): its requirements and its host packages are used when given.
    """
    told: Dict[str, Requirement] = {}
    if resolution is not None:
        told = {r.text: r for r in resolution.buildrequires if not r.needed_by}
        requirements = list(dict.fromkeys((*told, *requirements)))
    met: List[Met] = []
    findings: List[str] = []
    for requirement in requirements:
        node = parse_dependency(requirement)
        if node is None:
            continue
        inside = None
        for leaf in leaves(node):
            hits, _ = buildroot.meeting(leaf, exclude=component)
            if hits:
                inside = hits[0]
                break
        if inside is not None:
            met.append(Met(requirement, "stream", inside[0], str(inside[1])))
            continue
        known = told.get(requirement)
        if known is not None and known.source == "host":
            outside = Met(requirement, "host", "", known.provider)
        else:
            outside = _outside(requirement, base)
            if outside.by == "outside" and known is not None and known.source == "assumed":
                outside = Met(requirement, "outside", "", "assumed from the host")
        met.append(outside)
        for leaf in leaves(node):
            also, _ = stream.meeting(leaf, exclude=component)
            if also:
                who, provide, _source = also[0]
                against = (f"the base's {outside.provide}" if outside.by == "base" else
                           f"the host's {outside.provide}" if outside.by == "host" else f"{host_label}'s {leaf.name}")
                findings.append(f"{component} was built against {against} for {requirement}; the stream has "
                                f"{who} {versions.get(who, '')}".rstrip() + f" ({provide})")
                break
    return ComponentAudit(component, tuple(met), tuple(findings))
