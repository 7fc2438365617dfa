"""What the base distribution provides, read from its repositories' metadata.

Used to decide which edges of a cycle the base can satisfy (so the cycle can be
broken there) and, at install time, as repositories for runtime dependencies.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
import os
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from typing import FrozenSet, Iterable, Optional, Set

from . import values
from .capabilities import provide_name
from .errors import SourceError
from .workdir import atomic_write

_REPO = "{http://linux.duke.edu/metadata/repo}"
_COMMON = "{http://linux.duke.edu/metadata/common}"
_RPM = "{http://linux.duke.edu/metadata/rpm}"
TIMEOUT = 120


def _get(url: str) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise SourceError(f"base repository answered {exc.code} {exc.reason} for {url}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise SourceError(f"cannot read base repository {url}: {getattr(exc, 'reason', exc)}") from None


def _decompress(data: bytes, href: str) -> bytes:
    if href.endswith(".gz"):
        return gzip.decompress(data)
    if href.endswith(".xz"):
        return lzma.decompress(data)
    if href.endswith(".bz2"):
        return bz2.decompress(data)
    if href.endswith(".xml"):
        return data
    raise SourceError(f"unsupported metadata compression: {href} (gz, xz, bz2 or none)")


def repo_capabilities(url: str, cache_dir: Optional[str] = None) -> Set[str]:
    """Package names, provide names and listed files of every package in one repository.

    With ``cache_dir``, the answer is kept under the digest of the repository's
    ``repomd.xml``, so an unchanged repository is read once.
    """
    base = values.as_base_url(values.check_url(url, "base repository URL", schemes=("https", "http", "file")))
    repomd_bytes = _get(base + "repodata/repomd.xml")
    cached = os.path.join(cache_dir, hashlib.sha256(repomd_bytes).hexdigest() + ".txt") if cache_dir else None
    if cached and os.path.exists(cached):
        with open(cached, encoding="utf-8") as handle:
            return set(handle.read().splitlines())
    caps = _read_primary(base, repomd_bytes)
    if cached:
        atomic_write(cached, "\n".join(sorted(caps)).encode())
    return caps


def package_names(url: str) -> Set[str]:
    """The binary package names in one repository (the base-collision policy compares names, not provides)."""
    base = values.as_base_url(values.check_url(url, "base repository URL", schemes=("https", "http", "file")))
    names: Set[str] = set()
    for package in _primary_root(base, _get(base + "repodata/repomd.xml")).findall(f"{_COMMON}package"):
        name = package.find(f"{_COMMON}name")
        if name is not None and name.text:
            names.add(name.text)
    return names


def _primary_root(base: str, repomd_bytes: bytes) -> ET.Element:
    """The parsed primary metadata named by ``repomd.xml``."""
    try:
        repomd = ET.fromstring(repomd_bytes)
    except ET.ParseError as exc:
        raise SourceError(f"{base}repodata/repomd.xml is not valid XML: {exc}") from None
    href = None
    for data in repomd.findall(f"{_REPO}data"):
        if data.get("type") == "primary":
            location = data.find(f"{_REPO}location")
            href = location.get("href") if location is not None else None
    if not href:
        raise SourceError(f"{base}repodata/repomd.xml names no primary metadata")
    try:
        return ET.fromstring(_decompress(_get(base + href), href))
    except (ET.ParseError, OSError, lzma.LZMAError) as exc:
        raise SourceError(f"cannot read {base}{href}: {exc}") from None


def _read_primary(base: str, repomd_bytes: bytes) -> Set[str]:
    caps: Set[str] = set()
    for package in _primary_root(base, repomd_bytes).findall(f"{_COMMON}package"):
        name = package.find(f"{_COMMON}name")
        if name is not None and name.text:
            caps.add(name.text)
        fmt = package.find(f"{_COMMON}format")
        if fmt is None:
            continue
        for entry in fmt.iterfind(f"{_RPM}provides/{_RPM}entry"):
            caps.add(provide_name(entry.get("name", "")))
        for path in fmt.iterfind(f"{_COMMON}file"):
            if path.text:
                caps.add(path.text)
    return caps


class BaseProvides:
    """A callable: does the base provide this capability name?"""

    def __init__(self, capabilities: Iterable[str] = ()) -> None:
        self.capabilities: FrozenSet[str] = frozenset(capabilities)

    @classmethod
    def from_repos(cls, urls: Iterable[str], cache_dir: Optional[str] = None) -> "BaseProvides":
        caps: Set[str] = set()
        for url in urls:
            caps |= repo_capabilities(url, cache_dir)
        return cls(caps)

    def __call__(self, capability: str) -> bool:
        return capability in self.capabilities
