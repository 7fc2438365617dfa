"""The stream manifest (``stream-build.yaml``): what to build, on which base, and what to install."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple, TypeVar

from . import values
from .base import Base, parse_base
from .errors import InputError, Location, ManifestError, ManifestErrors
from .textdoc import DEFAULT_LIMITS

if TYPE_CHECKING:
    from .textdoc import Document

FEDORA_DIST_GIT = "https://src.fedoraproject.org/rpms/"
FEDORA_LOOKASIDE = "https://src.fedoraproject.org/repo/pkgs/rpms/"
DEFAULT_DISTGIT_REF = "rawhide"
T = TypeVar("T")
#: The manifest a command uses when none is named: this file in the current directory.
DEFAULT_NAME = "stream-build.yaml"


@dataclass(frozen=True)
class Component:
    """One package of the set, at a ref of one repository."""

    name: str
    ref: str
    source_type: str  # "dist-git" or "git"
    base_url: str
    buildonly: bool = False
    replaces: bool = False
    spec: Optional[str] = None
    macros: Tuple[Tuple[str, str], ...] = ()
    version: Optional[str] = None
    lookaside: Optional[str] = None
    distgit_url: Optional[str] = None  # git sources: where to look for a spec if upstream has none
    distgit_ref: Optional[str] = None
    location: Optional[Location] = field(default=None, compare=False)

    @property
    def repo_url(self) -> str:
        suffix = ".git" if self.source_type == "dist-git" else ""
        return f"{self.base_url}{self.name}{suffix}"

    @property
    def distgit_repo_url(self) -> Optional[str]:
        return f"{self.distgit_url}{self.name}.git" if self.distgit_url else None

    def identity(self) -> Dict[str, Any]:
        """What the lock records to tell whether a lock entry still matches this component."""
        return {"name": self.name, "type": self.source_type, "url": self.repo_url, "ref": self.ref}


@dataclass(frozen=True)
class InstallSpec:
    type: str
    packages: Tuple[str, ...]
    path: Optional[str] = None
    base_image: Optional[str] = None
    tag: Optional[str] = None
    registry: Optional[str] = None


@dataclass(frozen=True)
class Manifest:
    path: str
    name: str
    base: Base
    components: Tuple[Component, ...]
    macros: Tuple[Tuple[str, str], ...] = ()
    install: Optional[InstallSpec] = None
    base_repos: Tuple[str, ...] = ()

    @property
    def directory(self) -> str:
        return os.path.dirname(os.path.abspath(self.path))

    @property
    def lock_path(self) -> str:
        """The lock beside the manifest: ``.lock`` for ``.yaml`` (``stream-build.lock``)."""
        return f"{os.path.splitext(self.path)[0]}.lock"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c.name: c for c in reversed(self.components)})  # the first wins

    def component(self, name: str) -> Component:
        return self._index[name]  # type: ignore[attr-defined,no-any-return]

    def digest(self) -> str:
        """A digest of everything in the manifest that decides what is built."""
        data = {
            "base": self.base.name,
            "macros": list(self.macros),
            "components": [
                dict(c.identity(), buildonly=c.buildonly, spec=c.spec, macros=list(c.macros), version=c.version)
                for c in self.components
            ],
        }
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()


def find_manifest(given: Optional[str] = None, directory: Optional[str] = None) -> str:
    """The manifest a command means: ``given`` (``--manifest``), else ``stream-build.yaml`` in
    ``directory`` (the current directory), which must exist."""
    if given:
        return given
    where = directory or os.getcwd()
    path = os.path.join(where, DEFAULT_NAME)
    if not os.path.exists(path):
        raise ManifestError(f"no {DEFAULT_NAME} in {where}: name the manifest with --manifest FILE (-m FILE)")
    return path if directory else DEFAULT_NAME


def load_manifest(path: str) -> Manifest:
    """The manifest at ``path``; every problem is an :class:`InputError` naming file, line and column.
    (A stream reads it through :func:`streambuild.manifestcache.load_manifest`.)"""
    return manifest_from_bytes(manifest_bytes(path), path)


def manifest_bytes(path: str) -> bytes:
    """The bytes of the manifest at ``path`` (up to the most a manifest may have, and one more)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(DEFAULT_LIMITS.max_bytes + 1)
    except FileNotFoundError:
        raise ManifestError("manifest not found", Location(path)) from None
    except OSError as exc:
        raise ManifestError(f"cannot read manifest: {exc.strerror or exc}", Location(path)) from None


def manifest_from_bytes(data: bytes, path: str) -> Manifest:
    from . import yamldoc  # PyYAML: only when a manifest is read from its YAML

    return _parse(yamldoc.load_bytes(data, path))


def parse_manifest(text: str, path: str = "<manifest>") -> Manifest:
    """The manifest in ``text``; every problem is an :class:`InputError` naming file, line and column."""
    from . import yamldoc

    return _parse(yamldoc.load(text, path))


class _Problems:
    """Collects the problems of a manifest so that all are reported together."""

    def __init__(self) -> None:
        self.found: List[InputError] = []

    def attempt(self, func: Callable[..., T], *args: Any) -> Optional[T]:
        try:
            return func(*args)
        except ManifestErrors as exc:
            self.found.extend(exc.problems)
        except InputError as exc:  # a bad name, ref, URL or path (UnsafeValueError), a bad base
            self.found.append(exc)
        return None

    def raise_all(self) -> None:
        if len(self.found) == 1:
            raise self.found[0]
        if self.found:
            raise ManifestErrors([p if isinstance(p, ManifestError) else ManifestError(p.message, p.location)
                                  for p in self.found])


def _parse(doc: Document) -> Manifest:
    from . import schema

    path = doc.path
    if doc.data is None:
        raise ManifestError("the manifest is empty (expected 'base:' and 'build:')", Location(path, 1, 1))
    schema.validate(doc)
    data = doc.data
    problems = _Problems()
    base = problems.attempt(parse_base, data["base"], doc.where(("base",)))
    macros = problems.attempt(_macros, doc, data.get("macros", {}), ("macros",)) or ()
    distgit_sources = [s for s in data["build"] if s["type"] == "dist-git"]
    default_distgit = values.as_base_url(distgit_sources[0]["url"]) if distgit_sources else FEDORA_DIST_GIT
    default_lookaside = _lookaside_of(distgit_sources[0]) if distgit_sources else FEDORA_LOOKASIDE
    components: List[Component] = []
    seen: Dict[str, Location] = {}
    for s_index, source in enumerate(data["build"]):
        key = ("build", s_index)
        checked = problems.attempt(values.check_url, source["url"], "url", doc.where(key + ("url",)))
        url = values.as_base_url(checked) if checked else ""
        lookaside = problems.attempt(_source_lookaside, doc, source, key, default_lookaside)
        for p_index, item in enumerate(source["packages"]):
            pkey = key + ("packages", p_index)
            comp = problems.attempt(_component, doc, item, pkey, source["type"], url, lookaside, default_distgit)
            if comp is None:
                continue
            if comp.name in seen:
                problems.found.append(ManifestError(
                    f"component {comp.name!r} is listed twice (first at {seen[comp.name]})", doc.where(pkey)))
            seen[comp.name] = doc.where(pkey)
            components.append(comp)
    install = problems.attempt(_install, doc, data["install"]) if "install" in data else None
    if "name" in data:
        name = problems.attempt(values.check_name, data["name"], "stream name", doc.where(("name",))) or "stream"
    else:
        stem = os.path.splitext(os.path.basename(path))[0]
        name = stem if values.is_name(stem) else "stream"
    base_repos = tuple(
        problems.attempt(values.check_url, url, "base_repos entry", doc.where(("base_repos", i)),
                         values.DOWNLOAD_SCHEMES) or ""
        for i, url in enumerate(data.get("base_repos", []))
    )
    problems.raise_all()
    assert base is not None
    return Manifest(path, name, base, tuple(components), macros, install, base_repos)


def _source_lookaside(doc: Document, source: Dict[str, Any], key: Tuple[Any, ...], default: Optional[str]) -> Optional[str]:
    if "lookaside" not in source:
        return _lookaside_of(source) if source["type"] == "dist-git" else default
    if source["type"] != "dist-git":
        raise ManifestError("'lookaside' only applies to dist-git sources", doc.where_key(key + ("lookaside",)))
    return values.as_base_url(
        values.check_url(source["lookaside"], "lookaside", doc.where(key + ("lookaside",)), values.DOWNLOAD_SCHEMES))


def _lookaside_of(source: Dict[str, Any]) -> Optional[str]:
    if "lookaside" in source:
        return values.as_base_url(source["lookaside"])
    return FEDORA_LOOKASIDE if values.as_base_url(source["url"]) == FEDORA_DIST_GIT else None


def _macros(doc: Document, raw: Dict[str, Any], key: Tuple[Any, ...]) -> Tuple[Tuple[str, str], ...]:
    result = []
    for name, value in raw.items():
        values.check_macro_name(name, doc.where_key(key + (name,)))
        text = str(value).lower() if isinstance(value, bool) else str(value)
        values.check_macro_value(name, text, doc.where(key + (name,)))
        result.append((name, text))
    return tuple(sorted(result))


def _component(
    doc: Document, item: Any, key: Tuple[Any, ...], source_type: str, url: str, lookaside: Optional[str], distgit: str
) -> Component:
    where = doc.where(key)
    if isinstance(item, str):
        name, _, ref = item.partition(":")
        return Component(
            name=values.check_name(name, "package name", where),
            ref=values.check_ref(ref, f"ref of {name}", where),
            source_type=source_type,
            base_url=url,
            lookaside=lookaside,
            distgit_url=distgit if source_type == "git" else None,
            distgit_ref=DEFAULT_DISTGIT_REF if source_type == "git" else None,
            location=where,
        )
    name = values.check_name(item["name"], "package name", doc.where(key + ("name",)))
    for git_only in ("version", "distgit_ref"):
        if git_only in item and source_type != "git":
            raise ManifestError(f"{git_only!r} only applies to git sources", doc.where_key(key + (git_only,)))
    version = item.get("version")
    if version is not None and not values.is_name(version):
        raise ManifestError(f"version {version!r} of {name} is not a valid rpm version", doc.where(key + ("version",)))
    return Component(
        name=name,
        ref=values.check_ref(item["ref"], f"ref of {name}", doc.where(key + ("ref",))),
        source_type=source_type,
        base_url=url,
        buildonly=item.get("buildonly", False),
        replaces=item.get("replaces", False),
        spec=values.check_relative_path(item["spec"], "spec", doc.where(key + ("spec",))) if "spec" in item else None,
        macros=_macros(doc, item.get("macros", {}), key + ("macros",)),
        version=version,
        lookaside=lookaside,
        distgit_url=distgit if source_type == "git" else None,
        distgit_ref=(
            values.check_ref(item["distgit_ref"], "distgit_ref", doc.where(key + ("distgit_ref",)))
            if "distgit_ref" in item
            else (DEFAULT_DISTGIT_REF if source_type == "git" else None)
        ),
        location=where,
    )


_INSTALL_KEYS = {"installroot": {"path"}, "container": {"base_image", "tag", "registry"}, "host": set()}


def _install(doc: Document, raw: Dict[str, Any]) -> InstallSpec:
    key = ("install",)
    kind = raw["type"]
    for name in ("path", "base_image", "tag", "registry"):
        if name in raw and name not in _INSTALL_KEYS[kind]:
            raise ManifestError(f"install: {name!r} does not apply to type {kind!r}", doc.where_key(key + (name,)))
    if kind == "container":
        for name in ("base_image", "tag"):
            if name not in raw:
                raise ManifestError(f"install: type 'container' needs {name!r}", doc.where(key))
    packages = tuple(
        values.check_name(p, "package name", doc.where(key + ("packages", i))) for i, p in enumerate(raw["packages"])
    )
    path = raw.get("path")
    if path is not None:
        values.check_path(path, "install.path", doc.where(key + ("path",)))
    return InstallSpec(kind, packages, path, raw.get("base_image"), raw.get("tag"), raw.get("registry"))
