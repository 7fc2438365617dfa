"""rpm's Python bindings (``import rpm``): version comparison, dependency overlap, package headers.

The only module that imports ``rpm``. Versions and ranges are compared by rpm itself
(``rpm.ds(...).Compare``, ``rpm.labelCompare``), so a plan agrees with what rpmbuild and DNF
will decide; headers are read without verifying signatures (the RPMs are our own builds or a
repository's, checked by createrepo_c's checksums).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable, List, Optional, Set, Tuple

from ..errors import EnvironmentProblem, InputError

try:  # pragma: no cover - depends on the host
    import rpm
except ImportError:  # pragma: no cover
    rpm = None

__all__ = [
    "require",
    "expand",
    "define",
    "Capability",
    "PackageHeader",
    "overlaps",
    "evr_compare",
    "read_header",
    "read_headers",
    "Database",
    "OPERATORS",
]

#: Comparison operators as rpm spells them.
OPERATORS = ("<", "<=", "=", ">=", ">")

_HEADER_LOCK = threading.Lock()


def require() -> Any:
    """The ``rpm`` module; :class:`EnvironmentProblem` when this interpreter lacks it."""
    if rpm is None:
        raise EnvironmentProblem(
            "rpm's Python bindings are missing (Debian: apt install python3-rpm; Fedora: dnf install "
            "python3-rpm); run stream-build with the system's Python (a virtual environment needs "
            "--system-site-packages)"
        )
    return rpm


@dataclass(frozen=True)
class Capability:
    """One simple dependency or provide: ``name [op evr]``."""

    name: str
    operator: Optional[str] = None  # one of OPERATORS, or None
    evr: Optional[str] = None

    def __str__(self) -> str:
        return f"{self.name} {self.operator} {self.evr}" if self.operator and self.evr else self.name

    @classmethod
    def parse(cls, text: str) -> "Capability":
        """``"python3dist(torch) = 2.11.0"`` -> ``Capability("python3dist(torch)", "=", "2.11.0")``."""
        words = text.split()
        if len(words) >= 3 and words[1] in OPERATORS:
            return cls(words[0], words[1], words[2])
        return cls(words[0] if words else "")


def expand(text: str) -> str:
    """``text`` with rpm's macros expanded as this process's rpm configuration says."""
    return str(require().expandMacro(text))


def define(name: str, value: str) -> None:
    """Define rpm macro ``name`` as ``value`` in this process (over every configuration file's)."""
    require().addMacro(name, value)


def undefine(name: str) -> None:
    """Undo the last :func:`define` of ``name``: the definition before it is back."""
    require().delMacro(name)


def _flags(operator: Optional[str]) -> int:
    module = require()
    if not operator:
        return 0
    flags = 0
    if "<" in operator:
        flags |= module.RPMSENSE_LESS
    if ">" in operator:
        flags |= module.RPMSENSE_GREATER
    if "=" in operator:
        flags |= module.RPMSENSE_EQUAL
    return flags


@lru_cache(maxsize=1 << 17)
def _overlaps(name: str, req_op: Optional[str], req_evr: Optional[str], prov_op: Optional[str],
              prov_evr: Optional[str]) -> bool:
    module = require()
    req = module.ds((name, _flags(req_op), req_evr or ""), module.RPMTAG_REQUIRENAME)
    prov = module.ds((name, _flags(prov_op), prov_evr or ""), module.RPMTAG_PROVIDENAME)
    return bool(req.Compare(prov))


def overlaps(requirement: Capability, provide: Capability) -> bool:
    """Whether ``provide`` satisfies ``requirement``, by rpm's own rules (names must be equal).

    An unversioned requirement is met by any provide of the name; a versioned one by an
    unversioned provide too (as rpm does), else by a provide whose range overlaps.
    """
    if requirement.name != provide.name:
        return False
    if not requirement.operator or not requirement.evr:
        return True
    return _overlaps(requirement.name, requirement.operator, requirement.evr, provide.operator, provide.evr)


def _split_evr(evr: str) -> Tuple[str, str, str]:
    epoch, _, rest = evr.rpartition(":") if ":" in evr else ("0", "", evr)
    version, _, release = rest.partition("-")
    return (epoch or "0", version, release)


def evr_compare(a: str, b: str) -> int:
    """-1, 0 or 1 as rpm orders ``[epoch:]version[-release]`` strings."""
    return int(require().labelCompare(_split_evr(a), _split_evr(b)))


@dataclass(frozen=True)
class PackageHeader:
    """What stream-build reads from one RPM's header."""

    path: str
    name: str
    epoch: Optional[int]
    version: str
    release: str
    arch: str
    source: bool
    provides: Tuple[str, ...]  # "name [op evr]" strings, as rpm -q --provides prints them
    requires: Tuple[str, ...]  # idem, rpmlib() requirements left out
    files: Tuple[str, ...] = ()  # the paths the package installs

    @property
    def evr(self) -> str:
        prefix = f"{self.epoch}:" if self.epoch else ""
        return f"{prefix}{self.version}-{self.release}"

    @property
    def nevra(self) -> str:
        prefix = f"{self.epoch}:" if self.epoch else ""
        return f"{self.name}-{prefix}{self.version}-{self.release}.{self.arch}"


def _text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _strings(header: Any, tag: Any) -> List[str]:
    return [_text(v) for v in (header[tag] or [])]


def _package(module: Any, header: Any, path: str) -> PackageHeader:
    requires = [r for r in _strings(header, module.RPMTAG_REQUIRENEVRS) if not r.startswith("rpmlib(")]
    epoch = header[module.RPMTAG_EPOCH]
    return PackageHeader(
        path=path,
        name=_text(header[module.RPMTAG_NAME]),
        epoch=int(epoch) if epoch is not None else None,
        version=_text(header[module.RPMTAG_VERSION]),
        release=_text(header[module.RPMTAG_RELEASE]),
        arch=_text(header[module.RPMTAG_ARCH]) if not header[module.RPMTAG_SOURCEPACKAGE] else "src",
        source=bool(header[module.RPMTAG_SOURCEPACKAGE]),
        provides=tuple(_strings(header, module.RPMTAG_PROVIDENEVRS)),
        requires=tuple(requires),
        files=tuple(_strings(header, module.RPMTAG_FILENAMES)),
    )


def read_header(path: str) -> PackageHeader:
    """The header of the RPM at ``path``; :class:`InputError` naming the file when it is not one."""
    module = require()
    ts = module.TransactionSet("/", module._RPMVSF_NOSIGNATURES | module._RPMVSF_NODIGESTS)
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    try:
        with _HEADER_LOCK:  # rpm's header reading is not known to be thread-safe
            header = ts.hdrFromFdno(fd)
    except module.error as exc:
        raise InputError(f"{path} is not a readable RPM package: {exc}") from None
    finally:
        os.close(fd)
    return _package(module, header, path)


def read_headers(paths: Iterable[str]) -> List[PackageHeader]:
    """:func:`read_header` of each path, in order."""
    return [read_header(p) for p in paths]


# -- spec parsing -----------------------------------------------------------------------------
#
# rpm keeps its macros in one global context per process: a parser resets it before each spec
# (``rpm.reloadConfig``), so nothing one spec defines reaches the next. Parsing runs rpm's
# macro engine, which runs shell (``%(...)``) and Lua: callers run it in a sandbox.


@dataclass(frozen=True)
class ParsedPackage:
    name: str
    provides: Tuple[str, ...]
    requires: Tuple[str, ...]


@dataclass(frozen=True)
class ParsedSpec:
    """What rpm's parser made of one spec: the source package and every binary package."""

    name: str
    epoch: Optional[int]
    version: str
    release: str
    buildrequires: Tuple[str, ...]
    packages: Tuple[ParsedPackage, ...]
    sources: Tuple[str, ...]  # Source values (patches left out) by number, as rpm expanded them


_SOURCE_FLAG = 1  # rpm's RPMBUILD_ISSOURCE in spec.sources (2 is a patch)


class SpecParseError(Exception):
    """rpm refused a spec; ``message`` is rpm's last error line (or a summary)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SpecParser:
    """rpm's spec parser in this process, with its log captured."""

    def __init__(self) -> None:
        import tempfile

        module = require()
        self._rpm = module
        self._log = tempfile.TemporaryFile(mode="w+", encoding="utf-8", errors="replace")
        module.setLogFile(self._log)
        module.setVerbosity(module.RPMLOG_ERR)

    @property
    def rpm_version(self) -> Tuple[int, ...]:
        parts = []
        for piece in str(self._rpm.__version__).split(".")[:3]:
            digits = "".join(c for c in piece if c.isdigit())
            parts.append(int(digits or 0))
        return tuple(parts)

    def reset(self) -> None:
        """Forget every macro defined since start-up (the host's configuration is read again)."""
        self._rpm.reloadConfig()

    def define(self, name: str, value: str) -> None:
        self._rpm.addMacro(name, value)

    def load(self, path: str) -> None:
        """Read a macro file (``%{load:...}``)."""
        self.expand("%{load:" + path + "}")

    def is_defined(self, name: str) -> bool:
        return self.expand("%{?" + name + ":1}") == "1"

    def expand(self, text: str) -> str:
        """``text`` with its macros expanded; :class:`SpecParseError` when rpm refuses it."""
        try:
            return str(self._rpm.expandMacro(text))
        except self._rpm.error as exc:
            errors = [line for line in self._take_log() if line.startswith("error:")]
            raise SpecParseError(errors[-1][len("error:"):].strip() if errors else str(exc)) from None

    def _take_log(self) -> List[str]:
        self._log.flush()
        self._log.seek(0)
        lines = [line.rstrip("\n") for line in self._log.read().splitlines() if line.strip()]
        self._log.seek(0)
        self._log.truncate()
        return lines

    def parse(self, path: str) -> ParsedSpec:
        """Parse the spec at ``path`` for any architecture; :class:`SpecParseError` with rpm's reason."""
        module = self._rpm
        self._take_log()
        try:
            spec = module.spec(path, module.RPMSPEC_ANYARCH | module.RPMSPEC_FORCE)
        except (ValueError, module.error) as exc:
            errors = [line for line in self._take_log() if line.startswith("error:")]
            raise SpecParseError(errors[-1][len("error:"):].strip() if errors else str(exc)) from None
        self._take_log()
        head = spec.sourceHeader
        source_name = _text(head[module.RPMTAG_NAME])
        with_files = _packages_with_files(str(spec.parsed or ""), source_name)
        packages = []
        for package in spec.packages:
            h = package.header
            if _text(h[module.RPMTAG_NAME]) not in with_files:
                continue  # no %files section: rpmbuild builds no package (as rpmspec --builtrpms says)
            packages.append(ParsedPackage(
                _text(h[module.RPMTAG_NAME]),
                tuple(_strings(h, module.RPMTAG_PROVIDENEVRS)),
                tuple(r for r in _strings(h, module.RPMTAG_REQUIRENEVRS) if not r.startswith("rpmlib(")),
            ))
        epoch = head[module.RPMTAG_EPOCH]
        return ParsedSpec(
            name=source_name,
            epoch=int(epoch) if epoch is not None else None,
            version=_text(head[module.RPMTAG_VERSION]),
            release=_text(head[module.RPMTAG_RELEASE]),
            buildrequires=tuple(r for r in _strings(head, module.RPMTAG_REQUIRENEVRS) if not r.startswith("rpmlib(")),
            packages=tuple(packages),
            sources=tuple(_text(value) for value, _number, _flags in sorted(
                (s for s in spec.sources if s[2] & _SOURCE_FLAG), key=lambda s: s[1])),
        )


def _packages_with_files(parsed: str, source_name: str) -> Set[str]:
    """The binary packages a parsed spec has a ``%files`` section for (``%files``, ``%files X``, ``%files -n X``)."""
    names = set()
    for line in parsed.splitlines():
        if not line.startswith("%files") or (len(line) > 6 and not line[6].isspace()):
            continue
        words = line.split()[1:]
        name, explicit, i = source_name, False, 0
        while i < len(words):
            word = words[i]
            if word == "-n" and i + 1 < len(words):
                name, explicit = words[i + 1], True
                i += 2
            elif word == "-f":
                i += 2
            elif word.startswith("-"):
                i += 1
            else:
                if not explicit:
                    name = f"{source_name}-{word}"
                break
        names.add(name)
    return names


class Database:
    """An rpm database, read-only: the host's own (``dbpath=None``) or the one at ``dbpath``.

    What the host's installed packages provide, for a build root whose BuildRequires
    outside the stream come from the host. Queries return :class:`PackageHeader` values
    whose ``path`` is empty (they come from the database, not from a file).
    """

    def __init__(self, dbpath: Optional[str] = None) -> None:
        module = require()
        with _HEADER_LOCK:  # %_dbpath is process-wide: set it only while this database is opened
            if dbpath is not None:
                module.addMacro("_dbpath", dbpath)
            try:
                self._ts = module.TransactionSet("/", module._RPMVSF_NOSIGNATURES | module._RPMVSF_NODIGESTS)
                self._ts.openDB()
            except module.error as exc:
                raise EnvironmentProblem(f"cannot open the rpm database {dbpath or expand('%{_dbpath}')}: {exc}") from None
            finally:
                if dbpath is not None:
                    module.delMacro("_dbpath")
        self.dbpath = dbpath

    def _match(self, tag: str, value: str) -> List[PackageHeader]:
        module = require()
        with _HEADER_LOCK:
            try:
                return [_package(module, h, "") for h in self._ts.dbMatch(tag, value)]
            except (module.error, TypeError):
                return []

    def providers(self, name: str) -> List[PackageHeader]:
        """Installed packages with a provide named ``name``."""
        return self._match("providename", name)

    def owners(self, path: str) -> List[PackageHeader]:
        """Installed packages that own the file ``path``."""
        return self._match("basenames", path)

    def close(self) -> None:
        with _HEADER_LOCK:
            self._ts.closeDB()
