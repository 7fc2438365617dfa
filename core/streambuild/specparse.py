"""One spec, parsed by rpm's own parser the way stream-build's analysis needs it.

:func:`parse_job` turns a :class:`SpecRequest` into a plain result (a dict that travels as
JSON): the source package's name, version and BuildRequires, every binary package with its
Provides, the spec's ``%generate_buildrequires`` generators, and the ecosystem names
(``%goipath``, ``%pypi_name``, ``%crate``) that conventions predict Provides from.

Where the host's rpm lacks Fedora's macro packages, stream-build's stand-ins
(``data/fedora-compat.macros``) are loaded for the macros the host does not define, and a spec
written for a newer rpm (``BuildSystem:``, rpm 4.20) is read without those lines; a tag-position
macro that is still unknown is taken as empty and the parse retried. Each such step is
recorded in the result's ``approximate`` list, so nothing approximate passes for exact.

This module runs rpm's macro engine, which runs shell and Lua from the spec: the analysis
runs it inside the sandbox (``python -m streambuild.specparse``, one JSON request a line on
standard input, one JSON result a line on standard output).
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Sequence, Tuple

from ._foreign import rpmlib

COMPAT_MACROS = os.path.join(os.path.dirname(__file__), "data", "fedora-compat.macros")
#: Macros whose rpm < 4.20 definitions refuse options that Fedora's specs use (``%autosetup -C``).
RPM_420_MACROS = os.path.join(os.path.dirname(__file__), "data", "rpm420-compat.macros")
MAX_RETRIES = 12

_MACRO_START = re.compile(r"^%([A-Za-z_][A-Za-z0-9_]*)(?:\(([^)]*)\))?[ \t\\\\]", re.M)
_UNKNOWN_TAG = re.compile(r"Unknown tag: %\{?[?!]*([A-Za-z_][A-Za-z0-9_]*)")
_BUILDSYSTEM = re.compile(r"^[ \t]*BuildSystem[ \t]*:[ \t]*(\S+)[ \t]*$", re.M | re.I)
_BUILDOPTION = re.compile(r"^[ \t]*BuildOption(?:\(([A-Za-z_]+)\))?[ \t]*:[ \t]*(.*)$", re.M | re.I)
_SECTION = re.compile(
    r"^%(prep|build|install|check|files|package|description|changelog|conf|clean|pre|post|preun|postun|"
    r"pretrans|posttrans|preuntrans|postuntrans|trigger\w*|filetrigger\w*|transfiletrigger\w*|verifyscript|"
    r"sepolicy|generate_buildrequires|patchlist|sourcelist)\b",
    re.M,
)
_GENERATORS = (
    ("pyproject", re.compile(r"%\{?pyproject_buildrequires\}?(.*)$")),
    ("cargo", re.compile(r"%\{?cargo_generate_buildrequires\}?(.*)$")),
    ("go", re.compile(r"%\{?go_generate_buildrequires\}?(.*)$")),
)
#: Options only rpm 4.20 knows, which the overrides in RPM_420_MACROS accept.
_NEWER_OPTIONS = re.compile(r"^%(?:autosetup\b[^\n]*\s-C\b|autopatch\b[^\n]*\s-q\b)", re.M)
_QUIET_LINE = re.compile(r"^(%if|%else|%elif|%endif|%global|%define|%undefine|export\s|set\s|:$|true$)")
_CHDIR = re.compile(r"^(?:cd|pushd)\s+(\S+)")
#: ``echo X`` prints one requirement: single-quoted anything, double-quoted without expansions, or a plain word list.
_ECHO = re.compile(r"""^echo\s+(?:'([^']*)'|"([^"$`\\]*)"|([A-Za-z0-9_(/][^;|&<>'"$`\\]*?))\s*$""")
#: Spec macros that name a project in its ecosystem; conventions predict Provides from them.
HINT_MACROS = ("goipath", "goipaths", "pypi_name", "srcname", "crate", "gem_name", "npm_name", "modname")


@dataclass(frozen=True)
class SpecRequest:
    """One spec to parse: where it is, the macros to define first, and where its sources are."""

    spec: str
    macros: Tuple[Tuple[str, str], ...] = ()
    sourcedir: Optional[str] = None
    #: macros defined only where the host has none of that name (the base's ``%python3_version``)
    fallback: Tuple[Tuple[str, str], ...] = ()

    def to_json(self) -> Dict[str, Any]:
        return {"spec": self.spec, "macros": [list(m) for m in self.macros], "sourcedir": self.sourcedir,
                "fallback": [list(m) for m in self.fallback]}

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> "SpecRequest":
        return cls(str(data["spec"]), tuple((str(k), str(v)) for k, v in data.get("macros", [])),
                   data.get("sourcedir"), tuple((str(k), str(v)) for k, v in data.get("fallback", [])))


def macro_file_entries(path: str) -> Dict[str, str]:
    """The definitions of a macro file, by name: ``{"autorelease": "%autorelease(e:s:hp:b:n) ..."}``."""
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    entries: Dict[str, str] = {}
    current: Optional[str] = None
    lines: List[str] = []
    for line in text.splitlines():
        if current is None:
            if not line.startswith("%"):
                continue
            match = _MACRO_START.match(line + " ")
            if not match:
                continue
            current, lines = match.group(1), [line]
        else:
            lines.append(line)
        if not line.endswith("\\"):
            entries[current] = "\n".join(lines)
            current = None
    return entries


class Parser:
    """A spec parser for one process: rpm's, plus the stand-ins for what the host lacks."""

    def __init__(self) -> None:
        self.rpm = rpmlib.SpecParser()
        self.rpm.reset()
        self.host_macros = frozenset(n for n in ("python3_version",) if self.rpm.is_defined(n))
        self.compat: Dict[str, str] = {
            name: text for name, text in macro_file_entries(COMPAT_MACROS).items() if not self.rpm.is_defined(name)
        }
        self.newer_rpm = self.rpm.rpm_version < (4, 20)
        overrides = macro_file_entries(RPM_420_MACROS) if self.newer_rpm else {}
        self.tmp = tempfile.mkdtemp(prefix="stream-build-specparse-")
        self.compat_file = os.path.join(self.tmp, "compat.macros")
        with open(self.compat_file, "w", encoding="utf-8") as handle:
            handle.write("\n".join([*self.compat.values(), *overrides.values()]) + "\n")
        self.overrides = tuple(overrides)
        self._referenced = re.compile(
            r"%[{?!]*(" + "|".join(re.escape(n) for n in sorted(self.compat, key=len, reverse=True)) + r")\b"
        ) if self.compat else None

    def _prepare(self, request: SpecRequest, empty: Sequence[str]) -> None:
        self.rpm.reset()
        if self.compat or self.overrides:
            self.rpm.load(self.compat_file)
        for name, value in request.fallback:
            if name not in self.host_macros:
                self.rpm.define(name, value)
        for name, value in request.macros:
            self.rpm.define(name, value)
        sourcedir = request.sourcedir or os.path.dirname(os.path.abspath(request.spec))
        for name, value in (("_sourcedir", sourcedir), ("_specdir", sourcedir), ("_topdir", self.tmp)):
            self.rpm.define(name, value)
        for name in empty:
            self.rpm.expand(f"%define {name}(-) %{{nil}}")

    def parse(self, request: SpecRequest) -> Dict[str, Any]:
        """The result for one request: ``{"ok": True, ...facts}`` or ``{"ok": False, "error": ...}``."""
        try:
            with open(request.spec, encoding="utf-8", errors="replace") as handle:
                text = handle.read()
        except OSError as exc:
            return {"ok": False, "error": f"cannot read the spec: {exc.strerror}"}
        approximate: List[str] = []
        path = request.spec
        buildsystem = _BUILDSYSTEM.search(text)
        options: Dict[str, List[str]] = {}
        if buildsystem and self.newer_rpm:
            for match in _BUILDOPTION.finditer(text):
                options.setdefault(match.group(1) or "conf", []).append(match.group(2).strip())
            stripped = _BUILDOPTION.sub("", _BUILDSYSTEM.sub("", text))
            path = os.path.join(self.tmp, os.path.basename(request.spec))
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(stripped)
            approximate.append(
                f"BuildSystem: {buildsystem.group(1)} needs rpm 4.20; read without its BuildSystem/BuildOption lines"
            )
        empty: List[str] = []
        try:
            for _ in range(MAX_RETRIES + 1):
                self._prepare(request, empty)
                try:
                    parsed = self.rpm.parse(path)
                    break
                except rpmlib.SpecParseError as exc:
                    unknown = _UNKNOWN_TAG.search(exc.message)
                    if unknown is None or unknown.group(1) in empty or len(empty) >= MAX_RETRIES:
                        return {"ok": False, "error": exc.message}
                    empty.append(unknown.group(1))
            else:  # pragma: no cover - the loop returns or breaks
                return {"ok": False, "error": "too many unknown macros"}
            if empty:
                approximate.append("macros unknown here taken as empty: " + ", ".join("%" + n for n in empty))
            used = sorted(set(self._referenced.findall(text))) if self._referenced is not None else []
            if self.overrides and _NEWER_OPTIONS.search(text):
                approximate.append("rpm 4.20's %autosetup -C / %autopatch -q read with this rpm's meaning")
            if used:
                approximate.append("stream-build's stand-ins for Fedora macros: " + ", ".join("%" + n for n in used))
            generators = list(self._generators(text))
            if buildsystem:
                generators.append(self._buildsystem_generator(buildsystem.group(1), options))
            hints = {name: self._expand("%{?" + name + "}").strip() for name in HINT_MACROS}
            return {
                "ok": True,
                "name": parsed.name,
                "epoch": parsed.epoch,
                "version": parsed.version,
                "release": parsed.release,
                "buildrequires": list(parsed.buildrequires),
                "packages": [
                    {"name": p.name, "provides": list(p.provides), "requires": list(p.requires)} for p in parsed.packages
                ],
                "sources": list(parsed.sources),
                "generators": generators,
                "hints": {k: v for k, v in hints.items() if v},
                "approximate": approximate,
            }
        finally:
            if path != request.spec:
                os.unlink(path)

    def _expand(self, text: str) -> str:
        """Macros expanded in what the spec defined; left as written when rpm refuses them."""
        try:
            return self.rpm.expand(text)
        except rpmlib.SpecParseError:
            return text

    def _generators(self, text: str) -> Iterator[Dict[str, Any]]:
        """What the ``%generate_buildrequires`` section runs, one entry a generator call.

        Entries are ``{"kind": "pyproject"|"cargo"|"go", "args": [...], "dir": "..."}`` for the
        known generator macros (``dir``: where a ``cd``/``pushd`` before it went), ``{"kind":
        "echo", "args": [...]}`` for requirements the section prints itself, and ``{"kind":
        "other", "text": ...}`` for anything else, which only the real generator run can answer.
        """
        start = re.search(r"^%generate_buildrequires\b.*$", text, re.M)
        if start is None:
            return
        following = _SECTION.search(text, start.end() + 1)
        body = text[start.end():following.start() if following else len(text)]
        directory = ""
        found = False
        for line in body.replace("\\\n", " ").splitlines():
            stripped = line.strip()
            if not stripped or stripped.startswith("#") or _QUIET_LINE.match(stripped):
                continue
            moved = _CHDIR.match(stripped)
            if moved:
                directory = self._expand(moved.group(1)).strip("'\"")
                continue
            if stripped.startswith("popd"):
                directory = ""
                continue
            echoed = _ECHO.match(stripped)
            if echoed:
                found = True
                printed = next(g for g in echoed.groups() if g is not None)
                yield {"kind": "echo", "args": [self._expand(printed).strip()]}
                continue
            for kind, pattern in _GENERATORS:
                match = pattern.search(stripped)
                if match:
                    found = True
                    yield {"kind": kind, "args": self._expand(match.group(1)).split(), "dir": directory}
                    break
            else:
                found = True
                yield {"kind": "other", "text": stripped[:200]}
        if not found:
            yield {"kind": "other", "text": "(an empty %generate_buildrequires section)"}

    def _buildsystem_generator(self, system: str, options: Dict[str, List[str]]) -> Dict[str, Any]:
        args = " ".join(options.get("generate_buildrequires", []))
        if system == "pyproject":
            return {"kind": "pyproject", "args": self._expand(args).split()}
        return {"kind": "other", "text": f"BuildSystem: {system}"}


def serve(stdin: Any = None, stdout: Any = None) -> None:
    """The sandboxed worker: one JSON request a line in, one JSON result a line out, until EOF."""
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    parser = Parser()
    for line in stdin:
        if not line.strip():
            continue
        try:
            request = SpecRequest.from_json(json.loads(line))
            result = parser.parse(request)
        except Exception as exc:  # one broken spec must not take the worker (and the others) down
            result = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(result) + "\n")
        stdout.flush()


if __name__ == "__main__":
    serve()
