"""createrepo_c's Python bindings (``import createrepo_c``): reading repository metadata.

The only module that imports ``createrepo_c``. Its parsers read every compression a repository
publishes (zstd since Fedora 41, xz, gz, bz2, none), which is why they are used rather than
the standard library.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator, List, Optional, Tuple

from ..errors import EnvironmentProblem, SourceError

try:  # pragma: no cover - depends on the host
    import createrepo_c
except ImportError:  # pragma: no cover
    createrepo_c = None

__all__ = ["MetadataRecord", "PackageRecord", "repomd_records", "primary_packages", "filelists_packages"]

_FLAGS = {"EQ": "=", "LT": "<", "LE": "<=", "GT": ">", "GE": ">="}


def _module() -> Any:
    if createrepo_c is None:
        raise EnvironmentProblem(
            "createrepo_c's Python bindings are missing (pip install createrepo_c; Debian: apt install "
            "python3-createrepo-c; Fedora: dnf install python3-createrepo_c)"
        )
    return createrepo_c


@dataclass(frozen=True)
class MetadataRecord:
    """One ``<data>`` entry of ``repomd.xml``."""

    type: str
    href: str
    checksum_type: str
    checksum: str


@dataclass(frozen=True)
class PackageRecord:
    """One package of ``primary.xml``: its EVR, its Provides as rpm prints them, and the files listed there."""

    pkgid: str
    name: str
    epoch: str
    version: str
    release: str
    arch: str
    sourcerpm: str
    provides: Tuple[str, ...]
    files: Tuple[str, ...]

    @property
    def evr(self) -> str:
        prefix = f"{self.epoch}:" if self.epoch and self.epoch != "0" else ""
        return f"{prefix}{self.version}-{self.release}"


def _provide(entry: Tuple[Any, ...]) -> str:
    name, flags, epoch, version, release = entry[:5]
    if not flags or not version:
        return str(name)
    evr = (f"{epoch}:" if epoch and epoch != "0" else "") + str(version) + (f"-{release}" if release else "")
    return f"{name} {_FLAGS.get(str(flags), '=')} {evr}"


def _paths(files: Optional[List[Tuple[Any, ...]]]) -> Tuple[str, ...]:
    return tuple(f"{directory}{name}" for _kind, directory, name in (files or ()))


def repomd_records(path: str) -> List[MetadataRecord]:
    """The records of a ``repomd.xml`` file; :class:`SourceError` when it is not one."""
    module = _module()
    repomd = module.Repomd()
    try:
        module.xml_parse_repomd(path, repomd)
    except Exception as exc:  # createrepo_c raises its own error type, or ValueError
        raise SourceError(f"repomd.xml cannot be read: {exc}") from None
    return [MetadataRecord(str(r.type), str(r.location_href), str(r.checksum_type or ""), str(r.checksum or ""))
            for r in repomd.records]


def _collect(parse: Any, path: str, what: str) -> List[Any]:
    found: List[Any] = []

    def keep(pkg: Any) -> bool:
        found.append(pkg)
        return True

    def warn(_kind: Any, message: Any) -> bool:
        return True  # unknown elements and the like: keep reading

    try:
        parse(path, keep, warn)
    except Exception as exc:
        raise SourceError(f"{what} cannot be read: {exc}") from None
    return found


def primary_packages(path: str) -> Iterator[PackageRecord]:
    """Every package in a (compressed) ``primary.xml``."""
    module = _module()
    packages = _collect(lambda p, keep, warn: module.xml_parse_primary(p, pkgcb=keep, warningcb=warn, do_files=True),
                        path, "primary metadata")
    for pkg in packages:
        yield PackageRecord(
            str(pkg.pkgId or ""), str(pkg.name), str(pkg.epoch or "0"), str(pkg.version), str(pkg.release),
            str(pkg.arch), str(pkg.rpm_sourcerpm or ""), tuple(_provide(p) for p in (pkg.provides or ())),
            _paths(pkg.files),
        )


def filelists_packages(path: str) -> Iterator[Tuple[str, str, Tuple[str, ...]]]:
    """``(pkgid, name, paths)`` of every package in a (compressed) ``filelists.xml``."""
    module = _module()
    packages = _collect(lambda p, keep, warn: module.xml_parse_filelists(p, None, keep, warn), path, "filelists metadata")
    for pkg in packages:
        yield str(pkg.pkgId or ""), str(pkg.name), _paths(pkg.files)
