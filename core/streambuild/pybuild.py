"""``%pyproject_buildrequires`` from a project's own sources, where Fedora's macros are absent.

Fedora's generator asks the project for what it needs, through the PEP 517 hooks: the
build requirements (``[build-system] requires`` and ``get_requires_for_build_wheel``) and, by
default (``-r``; ``-R`` turns it off), the runtime requirements from the wheel's metadata
(``prepare_metadata_for_build_wheel``), with ``-x EXTRAS`` adding extras, ``-g GROUPS``
dependency groups, ``-p`` the static ``[project]`` table instead of the backend, ``-N`` no
build system at all, and requirement files as arguments. This module does the same on the
prepared sources and answers with rpm BuildRequires (:mod:`streambuild.pyreqs`).

The hooks run the project's own build backend (``setup.py`` is code): this runs inside the
sandbox with no network, as ``python -m streambuild.pybuild REQUEST.json``, and every hook
call has a deadline. A backend that is not installed here is not an error: the requirements
``pyproject.toml`` lists are still read, and a note says what is missing.
"""

from __future__ import annotations

import email.parser
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Sequence, Tuple

from . import pyreqs
from .predict import pep503

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python < 3.11
    import tomli as tomllib

DEFAULT_BACKEND = "setuptools.build_meta:__legacy__"
DEFAULT_REQUIRES = ("setuptools >= 40.8",)
MAX_ARCHIVE_BYTES = 4 << 30
MAX_ARCHIVE_MEMBERS = 200_000


class ProbeError(Exception):
    """The sources cannot be read as the generator would (not TOML, an unsafe archive...)."""


@dataclass
class Options:
    """``%pyproject_buildrequires``'s options."""

    runtime: bool = True
    extras: List[str] = field(default_factory=list)
    groups: List[str] = field(default_factory=list)
    static_project: bool = False
    build_system: bool = True
    tox: bool = False
    files: List[str] = field(default_factory=list)


def parse_options(args: Sequence[str]) -> Options:
    """Read the generator's arguments as Fedora's macro reads them (unknown options are ignored)."""
    options = Options()
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        value = None
        if arg[:2] in ("-x", "-g", "-e", "-C") and len(arg) > 2:
            arg, value = arg[:2], arg[2:]
        elif arg in ("-x", "-g", "-e", "-C") and i + 1 < len(items):
            value = items[i + 1]
            i += 1
        if arg == "-r":
            options.runtime = True
        elif arg == "-R":
            options.runtime = False
        elif arg == "-x" and value:
            options.extras += [e.strip() for e in value.split(",") if e.strip()]
        elif arg == "-g" and value:
            options.groups += [g.strip() for g in value.split(",") if g.strip()]
        elif arg == "-p":
            options.static_project = True
        elif arg == "-N":
            options.build_system = False
        elif arg in ("-t", "-e"):
            options.tox = True
        elif not arg.startswith("-"):
            options.files.append(arg)
        i += 1
    return options


def _inside(root: str, name: str) -> bool:
    target = os.path.realpath(os.path.join(root, name))
    return target == os.path.realpath(root) or target.startswith(os.path.realpath(root) + os.sep)


def extract(archive: str, dest: str) -> str:
    """Unpack a source archive (tar of any compression, zip) safely; return its project directory."""
    if zipfile.is_zipfile(archive):
        _extract_zip(archive, dest)
    else:
        _extract_tar(archive, dest)
    entries = [e for e in os.listdir(dest) if not e.startswith(".")]
    if len(entries) == 1 and os.path.isdir(os.path.join(dest, entries[0])):
        return os.path.join(dest, entries[0])
    return dest


def _extract_zip(archive: str, dest: str) -> None:
    total = 0
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
        if len(infos) > MAX_ARCHIVE_MEMBERS:
            raise ProbeError(f"{os.path.basename(archive)} has more than {MAX_ARCHIVE_MEMBERS} members")
        for info in infos:
            total += info.file_size
            if total > MAX_ARCHIVE_BYTES or not _inside(dest, info.filename):
                raise ProbeError(f"{os.path.basename(archive)}: refusing member {info.filename!r}")
        zf.extractall(dest)


def _extract_tar(archive: str, dest: str) -> None:
    total = 0
    try:
        with tarfile.open(archive) as tf:
            members: List[tarfile.TarInfo] = []
            for member in tf:
                total += max(member.size, 0)
                if len(members) > MAX_ARCHIVE_MEMBERS or total > MAX_ARCHIVE_BYTES:
                    raise ProbeError(f"{os.path.basename(archive)} is too large to unpack")
                link = os.path.join(os.path.dirname(member.name), member.linkname)
                if not _inside(dest, member.name) or member.isdev() or (
                        (member.issym() or member.islnk()) and not _inside(dest, link)):
                    raise ProbeError(f"{os.path.basename(archive)}: refusing member {member.name!r}")
                members.append(member)
            tf.extractall(dest, members=members)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ProbeError(f"{os.path.basename(archive)} cannot be unpacked: {exc}") from None


def read_pyproject(project: str) -> Dict[str, Any]:
    path = os.path.join(project, "pyproject.toml")
    if not os.path.exists(path):
        return {}
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ProbeError(f"pyproject.toml is not valid TOML: {exc}") from None


def _group(table: Dict[str, Any], name: str, seen: Tuple[str, ...] = ()) -> List[str]:
    """The requirements of one PEP 735 dependency group, includes followed."""
    key = next((k for k in table if pep503(k) == pep503(name)), None)
    if key is None:
        raise ProbeError(f"pyproject.toml has no dependency group {name!r}")
    out: List[str] = []
    for item in table[key]:
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict) and "include-group" in item and item["include-group"] not in seen:
            out += _group(table, str(item["include-group"]), seen + (name,))
    return out


def _requirement_file(path: str, depth: int = 0) -> List[str]:
    out: List[str] = []
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except OSError as exc:
        raise ProbeError(f"cannot read the requirements file {os.path.basename(path)}: {exc.strerror}") from None
    for line in lines:
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith(("-r ", "--requirement ")) and depth < 5:
            out += _requirement_file(os.path.join(os.path.dirname(path), line.split(None, 1)[1]), depth + 1)
        elif not line.startswith("-"):
            out.append(line)
    return out


def _metadata_requirements(directory: str) -> Tuple[List[str], List[str]]:
    with open(os.path.join(directory, "METADATA"), encoding="utf-8") as handle:
        message = email.parser.Parser().parse(handle)
    return list(message.get_all("Requires-Dist") or []), list(message.get_all("Provides-Extra") or [])


def probe(project: str, args: Sequence[str], python_version: str, timeout: float) -> Dict[str, Any]:
    """The generator's answer for one project directory: rpm BuildRequires, notes, and whether it is exact."""
    options = parse_options(args)
    env = pyreqs.environment(python_version)
    notes: List[str] = []
    exact = True
    build: List[str] = []
    runtime: List[str] = []
    data = read_pyproject(project)
    system: Optional[Dict[str, Any]] = data["build-system"] if isinstance(data.get("build-system"), dict) else None
    project_table: Dict[str, Any] = data["project"] if isinstance(data.get("project"), dict) else {}
    if options.build_system:
        build += [str(r) for r in (system or {}).get("requires", DEFAULT_REQUIRES)]
        backend = str((system or {}).get("build-backend", DEFAULT_BACKEND))
        hooks = _Hooks(project, backend, (system or {}).get("backend-path"), timeout)
        try:
            build += hooks.get_requires_for_build_wheel()
            if options.runtime or options.extras:
                if options.static_project:
                    runtime += _static_runtime(project_table, options.extras)
                else:
                    requires, _extras = hooks.metadata_requirements()
                    runtime += requires
        except _Unavailable as exc:
            exact = False
            notes.append(f"{exc}: only the requirements pyproject.toml lists are known")
            if options.runtime or options.extras:
                if "dependencies" in (project_table.get("dynamic") or []):
                    notes.append("the runtime requirements are dynamic ([project] dynamic) and unknown")
                runtime += _static_runtime(project_table, options.extras)
    elif options.runtime and options.static_project:
        runtime += _static_runtime(project_table, options.extras)
    for group in options.groups:
        build += _group(data.get("dependency-groups") or {}, group)
    for name in options.files:
        build += _requirement_file(os.path.join(project, name))
    if options.tox:
        exact = False
        notes.append("-t/-e: tox's test requirements are not read here")
    wanted_extras = ["", *options.extras]
    try:
        requires = ["python3-devel", *pyreqs.convert(build, env), *pyreqs.convert(runtime, env, wanted_extras)]
    except ValueError as exc:
        raise ProbeError(str(exc)) from None
    return {"ok": True, "requires": list(dict.fromkeys(requires)), "exact": exact, "notes": notes}


def _static_runtime(table: Dict[str, Any], extras: Sequence[str]) -> List[str]:
    """The runtime requirements ``[project]`` lists, those of each wanted extra marked with it."""
    out = [str(r) for r in table.get("dependencies", [])]
    optional = table.get("optional-dependencies") or {}
    for extra in extras:
        key = next((k for k in optional if pep503(k) == pep503(extra)), None)
        for requirement in map(str, optional.get(key, []) if key is not None else []):
            req, marked, marker = requirement.partition(";")
            out.append(f"{req.strip()}; extra == '{extra}'" + (f" and ({marker.strip()})" if marked else ""))
    return out


class _Unavailable(Exception):
    """The build backend cannot run here (not installed, or its hook failed)."""


class _Hooks:
    """The PEP 517 hooks of one project, each call with a deadline, output kept quiet."""

    def __init__(self, project: str, backend: str, backend_path: Any, timeout: float) -> None:
        import pyproject_hooks

        self._module = pyproject_hooks
        self.backend = backend
        self.timeout = timeout
        self.tmp = tempfile.mkdtemp(prefix="stream-build-pep517-")

        def runner(cmd: Sequence[str], cwd: Optional[str] = None, extra_environ: Optional[Dict[str, str]] = None) -> None:
            env = dict(os.environ, **(extra_environ or {}))
            try:
                proc = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, timeout=self.timeout)
            except subprocess.TimeoutExpired:
                raise _Unavailable(f"the build backend {backend} did not answer within {self.timeout:g} s") from None
            if proc.returncode != 0:
                tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [f"exit code {proc.returncode}"]
                raise subprocess.CalledProcessError(proc.returncode, cmd, proc.stdout, tail[0].encode())

        paths = [backend_path] if isinstance(backend_path, str) else list(backend_path or [])
        self.caller = pyproject_hooks.BuildBackendHookCaller(project, backend, backend_path=paths or None,
                                                             runner=runner,  # type: ignore[arg-type]
                                                             python_executable=sys.executable)

    def _call(self, name: str, *args: Any) -> Any:
        try:
            return getattr(self.caller, name)(*args)
        except self._module.BackendUnavailable:
            raise _Unavailable(f"the build backend {self.backend} is not installed here") from None
        except subprocess.CalledProcessError as exc:
            why = exc.stderr.decode("utf-8", "replace") if isinstance(exc.stderr, bytes) else str(exc)
            raise _Unavailable(f"the build backend {self.backend} failed in {name}: {why[-300:]}") from None
        except (self._module.HookMissing, self._module.UnsupportedOperation) as exc:
            raise _Unavailable(f"the build backend {self.backend} lacks {exc}") from None

    def get_requires_for_build_wheel(self) -> List[str]:
        return [str(r) for r in self._call("get_requires_for_build_wheel", {}) or []]

    def metadata_requirements(self) -> Tuple[List[str], List[str]]:
        name = self._call("prepare_metadata_for_build_wheel", self.tmp, {})
        return _metadata_requirements(os.path.join(self.tmp, name))


def run(request: Dict[str, Any]) -> Dict[str, Any]:
    """Answer one request: ``{"archive" or "directory", "subdir", "args", "python_version", "timeout"}``."""
    try:
        if request.get("directory"):
            project = str(request["directory"])
        else:
            project = extract(str(request["archive"]), tempfile.mkdtemp(prefix="stream-build-src-"))
        if request.get("subdir"):
            if not _inside(project, str(request["subdir"])):
                raise ProbeError(f"the generator runs in {request['subdir']!r}, outside the sources")
            project = os.path.join(project, str(request["subdir"]))
        if not os.path.isdir(project):
            raise ProbeError(f"the sources have no directory {request.get('subdir')!r}")
        return probe(project, [str(a) for a in request.get("args", [])], str(request.get("python_version", "3")),
                     float(request.get("timeout", 120)))
    except ProbeError as exc:
        return {"ok": False, "error": str(exc)}


def main(argv: Sequence[str]) -> int:
    with open(argv[0], encoding="utf-8") as handle:
        request = json.load(handle)
    sys.stdout.write(json.dumps(run(request)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
