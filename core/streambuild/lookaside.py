"""Dist-git's lookaside cache: the ``sources`` file and verified, bounded downloads."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass
from typing import List, Optional

from . import values
from .errors import DownloadError, Location, SourceError
from .http import DownloadFailed, DownloadLimits, download
from .workdir import disk_full, is_disk_full
_NEW = re.compile(r"(?P<type>[A-Z0-9]+) \((?P<file>[^)]+)\) = (?P<hash>[0-9a-f]+)\Z")
_OLD = re.compile(r"(?P<hash>[0-9a-f]{32}) +(?P<file>\S+)\Z")
_LENGTHS = {"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128}


@dataclass(frozen=True)
class SourceFile:
    """One line of a ``sources`` file: a file, its hash type and its hash."""

    filename: str
    hashtype: str
    hash: str

    def url(self, lookaside: str, package: str) -> str:
        """Fedora's layout: ``<lookaside><name>/<file>/<hashtype>/<hash>/<file>``, and for the old md5
        lines of a ``sources`` file its older one without the hash type, ``<name>/<file>/<hash>/<file>``
        (as fedpkg downloads them)."""
        if self.hashtype == "md5":
            return f"{lookaside}{package}/{self.filename}/{self.hash}/{self.filename}"
        return f"{lookaside}{package}/{self.filename}/{self.hashtype}/{self.hash}/{self.filename}"


def parse_sources(text: str, path: str = "sources") -> List[SourceFile]:
    """Parse both formats: ``SHA512 (file) = hash`` and the old ``md5hash  file``."""
    files = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue
        where = Location(path, number)
        match = _NEW.match(line)
        if match:
            hashtype = match.group("type").lower()
        else:
            match = _OLD.match(line)
            hashtype = "md5"
        if not match:
            raise SourceError(f"cannot read line {line!r}: expected 'SHA512 (file) = hash' or 'md5hash  file'", where)
        if _LENGTHS.get(hashtype) != len(match.group("hash")):
            raise SourceError(f"unsupported hash type or wrong hash length in {line!r}", where)
        filename = values.check_file_name(match.group("file"), "file name", where)
        files.append(SourceFile(filename, hashtype, match.group("hash")))
    return files


def file_hash(path: str, hashtype: str) -> str:
    digest = hashlib.new(hashtype)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch(entry: SourceFile, package: str, lookaside: Optional[str], cache_dir: str, dest_dir: str) -> str:
    """Put ``entry`` into ``dest_dir``, from the cache or the lookaside, and verify its hash."""
    cached = os.path.join(cache_dir, entry.hashtype, entry.hash, entry.filename)
    if not os.path.exists(cached):
        if lookaside is None:
            raise SourceError(f"{package}: {entry.filename} is in the lookaside cache but no lookaside URL is configured")
        _download(entry.url(lookaside, package), entry, package, cached)
    dest = os.path.join(dest_dir, entry.filename)
    if os.path.lexists(dest):
        os.unlink(dest)
    try:
        try:
            os.link(cached, dest)
        except OSError:
            shutil.copyfile(cached, dest)
    except OSError as exc:
        if is_disk_full(exc):
            raise disk_full(dest, f"copying {entry.filename} of {package} into its sources") from None
        raise
    return dest


def _download(url: str, entry: SourceFile, package: str, cached: str, limits: Optional[DownloadLimits] = None) -> None:
    """Download into ``.<file>.part<PID>`` beside ``cached``, verify, then move into place.

    Bounded by :class:`~streambuild.http.DownloadLimits` (time and size, from the
    environment unless given); a full disk is :class:`~streambuild.errors.DiskFull`.
    Nothing is left behind on failure.
    """
    values.check_url(url, "lookaside URL", schemes=values.DOWNLOAD_SCHEMES)
    limits = limits or DownloadLimits.from_environment()
    tmp = os.path.join(os.path.dirname(cached), f".{entry.filename}.part{os.getpid()}")  # see workdir.remove_stale
    digest = hashlib.new(entry.hashtype)
    try:
        os.makedirs(os.path.dirname(cached), exist_ok=True)
        with open(tmp, "wb") as out:
            download(url, out, limits, digest.update)
            out.flush()
            os.fsync(out.fileno())
    except DownloadFailed as exc:
        _remove(tmp)
        raise DownloadError(f"{package}: {entry.filename} from {url} {exc}") from None
    except OSError as exc:
        _remove(tmp)
        if is_disk_full(exc):
            raise disk_full(tmp, f"downloading {entry.filename} of {package}") from None
        raise SourceError(f"{package}: cannot store {entry.filename}: {exc.strerror or exc}") from None
    except BaseException:
        _remove(tmp)
        raise
    if digest.hexdigest() != entry.hash:
        _remove(tmp)
        raise SourceError(
            f"{package}: {entry.filename} from {url} has {entry.hashtype} {digest.hexdigest()}, "
            f"but the sources file says {entry.hash}"
        )
    os.replace(tmp, cached)


def _remove(path: str) -> None:
    if os.path.exists(path):
        os.unlink(path)
