"""What the base distribution provides, read from its repositories' metadata.

``base_repos:`` names the base's repositories. Their ``primary`` metadata (and, only when a
BuildRequires of the set names a file that ``primary`` does not list, their ``filelists``) is
read with createrepo_c's parsers, so every compression a repository publishes works (zstd,
which Fedora uses since 41, xz, gz, bz2). Each file is checked against the checksum
``repomd.xml`` gives for it. The packages read are kept in the work directory under the
digest of ``repomd.xml``, so an unchanged repository is downloaded and parsed once.

The index answers three questions: does the base meet a requirement (versions compared by
rpm's rules; this decides which edges can be broken to break a cycle), which base package is
that (for the series audit: "built against the base's python3-torch 2.9.1"), and what does a
base package of a given name provide (the prediction of a component's generated Provides).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import tempfile
from dataclasses import dataclass
from typing import (
    Any,
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Optional,
    Sequence,
    Set,
    Tuple,
    TypeVar,
)

from . import http, values
from ._foreign import createrepo
from ._foreign.rpmlib import Capability, overlaps
from .capabilities import SimpleDep
from .errors import SourceError
from .workdir import atomic_write

INDEX_VERSION = 1


@dataclass(frozen=True)
class BasePackage:
    """One binary package of the base."""

    name: str
    evr: str
    arch: str
    sourcerpm: str
    provides: Tuple[str, ...]

    @property
    def version(self) -> str:
        return self.evr.split(":", 1)[-1].split("-", 1)[0]


def _get(url: str) -> bytes:
    """One metadata file, downloaded within the bounds every download has (:class:`http.DownloadLimits`)."""
    out = io.BytesIO()
    try:
        http.download(url, out, http.DownloadLimits.from_environment())
    except http.DownloadFailed as exc:
        raise SourceError(f"cannot read base repository {url}: {exc}") from None
    return out.getvalue()


def _checked(base: str, record: createrepo.MetadataRecord) -> bytes:
    """A metadata file, verified against the checksum repomd.xml gives for it."""
    data = _get(base + record.href)
    kind = record.checksum_type.lower()
    if kind == "sha":  # createrepo's old name for sha1
        kind = "sha1"
    if kind and record.checksum:
        try:
            digest = hashlib.new(kind, data).hexdigest()
        except ValueError:
            raise SourceError(f"{base}repodata/repomd.xml uses an unknown checksum type {record.checksum_type!r}") from None
        if digest != record.checksum:
            raise SourceError(
                f"{base}{record.href} does not match repomd.xml: its {kind} is {digest}, repomd.xml says "
                f"{record.checksum} (a mirror in the middle of a sync, or a corrupt download)"
            )
    return data


T = TypeVar("T")


def _parse_file(data: bytes, href: str, reader: Callable[[str], Iterable[T]]) -> List[T]:
    """What ``reader`` (a createrepo_c parser, which reads files) makes of ``data``, named like ``href``."""
    suffix = "".join(os.path.basename(href).partition(".")[1:]) or ".xml"
    with tempfile.NamedTemporaryFile(suffix=suffix if suffix.startswith(".") else "." + suffix) as handle:
        handle.write(data)
        handle.flush()
        return list(reader(handle.name))


class RepoMetadata:
    """One base repository: its ``repomd.xml`` and the metadata files it names, read on demand."""

    def __init__(self, url: str) -> None:
        self.base = values.as_base_url(values.check_url(url, "base repository URL", schemes=values.DOWNLOAD_SCHEMES))
        self.repomd = _get(self.base + "repodata/repomd.xml")
        self.digest = hashlib.sha256(self.repomd).hexdigest()
        self.records = {r.type: r for r in _parse_file(self.repomd, "repomd.xml", createrepo.repomd_records)}

    def _record(self, kind: str) -> createrepo.MetadataRecord:
        record = self.records.get(kind)
        if record is None:
            raise SourceError(f"{self.base}repodata/repomd.xml names no {kind} metadata")
        return record

    def primary(self) -> List[createrepo.PackageRecord]:
        record = self._record("primary")
        return _parse_file(_checked(self.base, record), record.href, createrepo.primary_packages)

    def filelists(self) -> List[Tuple[str, str, Tuple[str, ...]]]:
        record = self._record("filelists")
        return _parse_file(_checked(self.base, record), record.href, createrepo.filelists_packages)


def _read_cache(path: Optional[str]) -> Optional[Dict[str, Any]]:
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
        return data if isinstance(data, dict) and data.get("version") == INDEX_VERSION else None
    except (OSError, ValueError):
        return None


def _write_cache(path: Optional[str], data: Dict[str, Any]) -> None:
    if path:
        atomic_write(path, json.dumps({"version": INDEX_VERSION, **data}).encode())


def read_repo(url: str, cache_dir: Optional[str] = None,
              files: Iterable[str] = ()) -> Tuple[List[BasePackage], Set[str]]:
    """The packages of one repository, and the files it is known to hold: those ``primary`` lists, and
    those of ``files`` that ``filelists`` lists.

    Files listed in ``primary`` (executables, ``/etc``) are always known; the others are
    looked up in ``filelists`` only when asked for.
    """
    return _read(RepoMetadata(url), cache_dir, files)


def _read(repo: RepoMetadata, cache_dir: Optional[str], files: Iterable[str]) -> Tuple[List[BasePackage], Set[str]]:
    primary_cache = os.path.join(cache_dir, f"{repo.digest}.primary.json") if cache_dir else None
    cached = _read_cache(primary_cache)
    if cached is None:
        records = repo.primary()
        cached = {
            "packages": [[r.name, r.evr, r.arch, r.sourcerpm, list(r.provides)] for r in records],
            "files": sorted({path for r in records for path in r.files}),
        }
        _write_cache(primary_cache, cached)
    packages = [BasePackage(n, evr, arch, src, tuple(prov)) for n, evr, arch, src, prov in cached["packages"]]
    known = set(cached["files"])
    wanted = sorted({f for f in files if f.startswith("/")} - known)
    found = set(known)
    if wanted:
        key = hashlib.sha256("\n".join(wanted).encode()).hexdigest()[:16]
        files_cache = os.path.join(cache_dir, f"{repo.digest}.files-{key}.json") if cache_dir else None
        hit = _read_cache(files_cache)
        if hit is None:
            wanted_set = set(wanted)
            hit = {"files": sorted({p for _id, _n, paths in repo.filelists() for p in paths if p in wanted_set})}
            _write_cache(files_cache, hit)
        found |= set(hit["files"])
    return packages, found


class BaseProvides:
    """What the base provides: a :class:`streambuild.graph.BaseIndex`, and a test of names."""

    def __init__(self, packages: Iterable[BasePackage] = (), files: Iterable[str] = ()) -> None:
        self.packages: Dict[str, List[BasePackage]] = {}
        # provides by capability name as written; made into capabilities when a name is asked for (a base
        # has a million provides, a plan asks about a few thousand names)
        self._written: Dict[str, List[Tuple[str, BasePackage]]] = {}
        self._offers: Dict[str, List[Tuple[Capability, BasePackage]]] = {}
        packages_of = self.packages
        written = self._written
        for package in packages:
            found = packages_of.get(package.name)
            if found is None:
                packages_of[package.name] = [package]
            else:
                found.append(package)
            for provide in package.provides:
                head = provide.split(None, 1)
                name = head[0] if head else ""
                entries = written.get(name)
                if entries is None:
                    written[name] = [(provide, package)]
                else:
                    entries.append((provide, package))
        self.files: FrozenSet[str] = frozenset(files)
        #: the digest of the metadata it was read from (:meth:`from_repos`); ``None`` when made otherwise
        self.fingerprint: Optional[str] = None

    def _offers_of(self, name: str) -> List[Tuple[Capability, BasePackage]]:
        offers = self._offers.get(name)
        if offers is None:
            offers = []
            for provide, package in self._written.get(name, ()):
                words = provide.split()
                offers.append((Capability(words[0], words[1], words[2]) if len(words) >= 3
                               else Capability(words[0] if words else ""), package))
            self._offers[name] = offers
        return offers

    @classmethod
    def from_repos(cls, urls: Sequence[str], cache_dir: Optional[str] = None, files: Iterable[str] = ()) -> "BaseProvides":
        wanted = list(files)
        packages: List[BasePackage] = []
        found: Set[str] = set()
        digest = hashlib.sha256()
        for url in urls:
            repo = RepoMetadata(url)
            repo_packages, repo_files = _read(repo, cache_dir, wanted)
            packages += repo_packages
            found |= repo_files
            digest.update(f"{repo.base}\0{repo.digest}\0".encode())
        index = cls(packages, found)
        digest.update("\0".join(sorted(set(wanted))).encode())  # with the repositories, they decide what is found
        index.fingerprint = digest.hexdigest()
        return index

    @property
    def capabilities(self) -> FrozenSet[str]:
        return frozenset(self._written) | self.files

    def providers(self, requirement: SimpleDep) -> List[BasePackage]:
        """The base packages whose Provides meet one simple requirement (files: see :meth:`satisfies`)."""
        if requirement.name not in self._written:
            return []
        wanted = Capability(requirement.name, requirement.operator, requirement.version)
        return [package for cap, package in self._offers_of(requirement.name) if overlaps(wanted, cap)]

    def satisfies(self, requirement: SimpleDep) -> bool:
        if requirement.name.startswith("/") and requirement.name in self.files:
            return True
        return bool(self.providers(requirement))

    def __call__(self, capability: str) -> bool:
        """Whether the base provides this capability name (any version) or holds this file."""
        return capability in self._written or capability in self.files

    def package(self, name: str) -> Optional[BasePackage]:
        """The newest-listed base package of this name, if the base has one."""
        found = self.packages.get(name)
        return found[-1] if found else None


def package_names(urls: Sequence[str], cache_dir: Optional[str] = None) -> Set[str]:
    """The binary package names in the base's repositories (the base-collision policy compares names)."""
    names: Set[str] = set()
    for url in urls:
        names |= {p.name for p in read_repo(url, cache_dir)[0]}
    return names


_FEDORA_DIST = re.compile(r"\.fc([0-9]{2,4})(?![0-9])")


def newest_fedora_release(urls: Sequence[str], cache_dir: Optional[str] = None) -> Optional[int]:
    """The newest Fedora release the base's packages name in their releases (``.fc46``): rawhide's number
    when the repositories are rawhide's (see :mod:`streambuild.base`); None when none names one."""
    found = [int(m.group(1)) for url in urls for p in read_repo(url, cache_dir)[0] for m in _FEDORA_DIST.finditer(p.evr)]
    return max(found) if found else None
