"""What a component will provide once built, before it is: the Provides rpm's generators add.

A spec names only part of what its packages provide; rpm's dependency generators add the rest
at build time from the files (``python3dist(torch)`` from a ``dist-info`` directory,
``pkgconfig(x)`` from a ``.pc`` file, sonames, ``cmake(x)``, ``perl(x)``, ``crate(x)``...).
Edges that run through those Provides are the ones that matter most to a stream (torchaudio
needs the stream's torch, not the base's), so they are predicted, best source first, and every
Provide keeps its source:

``built``
    the component's own RPMs, once it has been built with these sources, macros and base
    (exact; kept in the result store, so a re-plan of a built stream is exact);
``spec``
    what the spec itself says (rpm's parse: ``Provides:`` and each package's own name);
``base-metadata``
    a binary package of the same name in the base's repositories provides these, re-versioned
    to the stream's version (``python3-torch`` in Fedora provides ``python3dist(torch)``,
    ``python3.14dist(torch)``, ``libtorch.so.2()(64bit)``...);
``convention``
    Fedora's naming guidelines, where the base says nothing: ``python3-NAME`` provides
    ``python3dist(NAME)`` and ``python3.Xdist(NAME)``, ``perl-Foo-Bar`` provides
    ``perl(Foo::Bar)``, ``rust-NAME-devel`` provides ``crate(NAME)``, a Go ``-devel`` package
    the import path ``golang(%{goipath})`` and what lies under it, ``rubygem-NAME``
    ``rubygem(NAME)``, ``nodejs-NAME`` ``npm(NAME)``, ``R-NAME`` ``R(NAME)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .analyse import Analysis, BinaryPackage
from .baserepo import BaseProvides
from .graph import ComponentFacts

_PYTHON = re.compile(r"^python(?P<version>3(?:\.\d+)?)-(?P<dist>[^+]+)(?:\+(?P<extra>.+))?$")
_RUST = re.compile(r"^rust-(?P<crate>.+?)(?:\+(?P<feature>.+))?-devel$")


def pep503(name: str) -> str:
    """A Python distribution name normalised as PEP 503 does: ``Zope.Interface`` -> ``zope-interface``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def legacy_dist(name: str) -> str:
    """The older normalisation Fedora also provides (dots kept): ``zope.interface``."""
    return re.sub(r"[^A-Za-z0-9.]+", "-", name).lower()


@dataclass(frozen=True)
class Predicted:
    """A component's Provides with their sources (:data:`streambuild.graph.SOURCES`)."""

    provides: Tuple[str, ...]
    sources: Tuple[str, ...]

    def facts(self, analysis: Analysis) -> ComponentFacts:
        dynamic = frozenset(analysis.dynamic.requires) if analysis.dynamic else frozenset()
        return ComponentFacts(analysis.name, analysis.all_buildrequires, self.provides, self.sources, dynamic)

    def by_source(self, source: str) -> Tuple[str, ...]:
        return tuple(p for p, s in zip(self.provides, self.sources) if s == source)


def _python(package: BinaryPackage, analysis: Analysis, python_version: str) -> List[str]:
    match = _PYTHON.match(package.name)
    if match is None:
        return []
    dist = match.group("dist")
    pypi = analysis.hint("pypi_name") or analysis.hint("srcname")
    if pypi and pep503(pypi) == pep503(dist):
        dist = pypi
    extra = f"[{pep503(match.group('extra'))}]" if match.group("extra") else ""
    version = analysis.version
    prefixes = ["python3", f"python{python_version}"] if match.group("version") == "3" else [f"python{match.group('version')}"]
    names = dict.fromkeys((pep503(dist), legacy_dist(dist)))
    return [f"{prefix}dist({name}{extra}) = {version}" for prefix in prefixes for name in names]


def convention_provides(package: BinaryPackage, analysis: Analysis, python_version: str) -> List[str]:
    """What Fedora's naming guidelines say a binary package of this name provides."""
    name, version = package.name, analysis.version
    found = _python(package, analysis, python_version)
    if found:
        return found
    rust = _RUST.match(name)
    if rust:
        crate = analysis.hint("crate") or rust.group("crate")
        feature = rust.group("feature")
        return [f"crate({crate}/{feature}) = {version}"] if feature else [f"crate({crate}) = {version}"]
    if name.startswith("perl-") and len(name) > 5 and not name.endswith(("-devel", "-tests")):
        return [f"perl({name[5:].replace('-', '::')})"]
    if name.startswith("rubygem-") and not name.endswith("-doc"):
        return [f"rubygem({analysis.hint('gem_name') or name[8:]}) = {version}"]
    if name.startswith("nodejs-") and not name.endswith("-devel"):
        return [f"npm({analysis.hint('npm_name') or name[7:]}) = {version}"]
    if name.startswith("R-") and not name.endswith("-devel"):
        return [f"R({name[2:]}) = {version}"]
    if name.endswith("-devel") and name.startswith("golang-"):
        paths = (analysis.hint("goipaths") or analysis.hint("goipath")).split()
        return [f"golang({path}{suffix})" for path in paths for suffix in ("", "/...")]
    return []


def _reversioned(provide: str, base_evr: str, base_version: str, analysis: Analysis) -> str:
    words = provide.split()
    if len(words) < 3:
        return provide
    name, operator, evr = words[0], words[1], words[2]
    plain = evr.split(":", 1)[-1]
    if evr == base_evr or plain == base_evr.split(":", 1)[-1]:
        return f"{name} {operator} {analysis.evr}"
    if plain.split("-", 1)[0] == base_version:
        return f"{name} {operator} {analysis.version}"
    return name  # versioned by something else than the package (a soname, an ABI): the version is unknown


def base_metadata_provides(package: BinaryPackage, analysis: Analysis, base: Optional[BaseProvides]) -> Optional[List[str]]:
    """What the base's package of the same name provides, re-versioned; ``None`` when the base has none."""
    if base is None:
        return None
    same = base.package(package.name)
    if same is None:
        return None
    return [_reversioned(p, same.evr, same.version, analysis) for p in same.provides]


def predict(
    analysis: Analysis,
    base: Optional[BaseProvides] = None,
    built: Optional[Mapping[str, Sequence[str]]] = None,
    python_version: str = "3",
) -> Predicted:
    """Every Provide of a component with its source, best source first and without repeats.

    ``built`` maps the component's built binary package names to their real Provides: when it
    is given, nothing is predicted.
    """
    provides: Dict[str, str] = {}

    def add(items: Sequence[str], source: str) -> None:
        for item in items:
            provides.setdefault(item, source)

    if built is not None:
        for name in sorted(built):
            add(built[name], "built")
        return Predicted(tuple(provides), tuple(provides.values()))
    for package in analysis.packages:
        add(package.provides, "spec")
    for package in analysis.packages:
        from_base = base_metadata_provides(package, analysis, base)
        if from_base is not None:
            add(from_base, "base-metadata")
        else:
            add(convention_provides(package, analysis, python_version), "convention")
    return Predicted(tuple(provides), tuple(provides.values()))
