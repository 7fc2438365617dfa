"""Python requirements (PEP 508) as the rpm BuildRequires Fedora's ``%pyproject_buildrequires`` writes.

``torch>=2.9,!=2.10.1; python_version >= "3.10"`` becomes
``(python3dist(torch) >= 2.9 with (python3dist(torch) < 2.10.1 or python3dist(torch) > 2.10.1))``
when its marker holds for the base's Python, and nothing when it does not. Names are
normalised as PEP 503 says; versions are written as rpm orders them (pre-releases with ``~``,
development releases with ``~~``, post-releases with ``^post``), so rpm compares them as
Python's packaging does.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Optional, Sequence

from packaging.markers import Marker, UndefinedEnvironmentName
from packaging.requirements import InvalidRequirement, Requirement
from packaging.version import InvalidVersion, Version

from .predict import pep503


#: Lower bounds first, as people write ranges: ``(x >= 1.26 with x < 3)``.
_OPERATOR_ORDER = {">=": 0, ">": 1, "==": 2, "===": 2, "~=": 3, "!=": 4, "<=": 5, "<": 6}


def environment(python_version: str, arch: str = "x86_64") -> Dict[str, str]:
    """The marker environment of the base's Python on Linux."""
    return {
        "implementation_name": "cpython",
        "implementation_version": f"{python_version}.0",
        "os_name": "posix",
        "platform_machine": arch if arch != "noarch" else "x86_64",
        "platform_python_implementation": "CPython",
        "platform_release": "",
        "platform_system": "Linux",
        "platform_version": "",
        "python_full_version": f"{python_version}.0",
        "python_version": python_version,
        "sys_platform": "linux",
    }


def rpm_version(text: str) -> str:
    """A PEP 440 version as rpm orders it: ``1.0rc1`` -> ``1.0~rc1``, ``1.0.post1`` -> ``1.0^post1``."""
    try:
        version = Version(text)
    except InvalidVersion:
        return text
    out = ".".join(str(p) for p in version.release)
    if version.epoch:
        out = f"{version.epoch}!{out}"  # rpm has no place for a Python epoch; kept visible
    if version.pre:
        out += f"~{version.pre[0]}{version.pre[1]}"
    if version.post is not None:
        out += f"^post{version.post}"
    if version.dev is not None:
        out += f"~~dev{version.dev}"
    if version.local:
        out += f"+{version.local}"
    return out


def _next_prefix(release: Sequence[int], keep: int) -> str:
    head = list(release[:keep])
    head[-1] += 1
    return ".".join(str(p) for p in head)


def _clauses(name: str, operator: str, version: str) -> str:
    """One specifier as an rpm dependency on ``name``."""
    if operator in (">=", ">", "<=", "<"):
        return f"{name} {operator} {rpm_version(version)}"
    if operator in ("==", "==="):
        if version.endswith(".*"):
            prefix = version[:-2]
            try:
                release = Version(prefix).release
            except InvalidVersion:
                return f"{name} = {prefix}"
            return f"({name} >= {rpm_version(prefix)} with {name} < {_next_prefix(release, len(release))})"
        return f"{name} = {rpm_version(version)}"
    if operator == "!=":
        if version.endswith(".*"):
            prefix = version[:-2]
            try:
                release = Version(prefix).release
            except InvalidVersion:
                return ""
            return f"({name} < {rpm_version(prefix)} or {name} >= {_next_prefix(release, len(release))})"
        return f"({name} < {rpm_version(version)} or {name} > {rpm_version(version)})"
    if operator == "~=":
        try:
            release = Version(version).release
        except InvalidVersion:
            return f"{name} >= {version}"
        if len(release) < 2:
            return f"{name} >= {rpm_version(version)}"
        return f"({name} >= {rpm_version(version)} with {name} < {_next_prefix(release, len(release) - 1)})"
    return name


def marker_holds(marker: Optional[Marker], env: Dict[str, str], extras: Iterable[str] = ("",)) -> bool:
    if marker is None:
        return True
    for extra in extras:
        try:
            if marker.evaluate({**env, "extra": extra}):
                return True
        except UndefinedEnvironmentName:
            continue
    return False


def to_rpm(requirement: str, env: Dict[str, str], extras: Iterable[str] = ("",),
           prefix: str = "python3") -> Optional[str]:
    """One PEP 508 requirement as an rpm dependency; ``None`` when its marker does not hold here.

    :raises ValueError: for a string that is not a PEP 508 requirement.
    """
    try:
        parsed = Requirement(requirement)
    except InvalidRequirement as exc:
        raise ValueError(f"{requirement!r} is not a Python requirement: {exc}") from None
    if not marker_holds(parsed.marker, env, extras):
        return None
    base = pep503(parsed.name)
    names = [f"{prefix}dist({base})"] + [f"{prefix}dist({base}[{pep503(e)}])" for e in sorted(parsed.extras)]
    out: List[str] = []
    for name in names:
        ordered = sorted(parsed.specifier, key=lambda s: (_OPERATOR_ORDER.get(s.operator, 9), s.version))
        parts = [c for c in (_clauses(name, s.operator, s.version) for s in ordered) if c]
        if not parts:
            out.append(name)
        elif len(parts) == 1:
            out.append(parts[0])
        else:
            out.append("(" + " with ".join(parts) + ")")
    return " ".join(out) if len(out) == 1 else "(" + " and ".join(out) + ")"


def convert(requirements: Iterable[str], env: Dict[str, str], extras: Iterable[str] = ("",)) -> List[str]:
    """Every requirement whose marker holds, as rpm dependencies, in order and without repeats."""
    seen: Dict[str, None] = {}
    for requirement in requirements:
        converted = to_rpm(requirement, env, extras)
        if converted:
            seen.setdefault(converted)
    return list(seen)
