"""Analysis: what each component needs to build and what it provides, at its locked commit.

rpm's own spec parser is asked, with the base's dist macros and the set's macros defined,
for the source package's BuildRequires, every binary package's name and Provides, and what
``%generate_buildrequires`` runs (see :mod:`streambuild.specparse`). Parsing runs the spec's
macros, which can run shell and Lua, so it happens in sandboxed worker processes
(:mod:`streambuild.sandbox`: the host read-only, no network, only an empty ``/tmp``
writable), each parsing many specs with rpm's Python bindings: one process per worker, not
per spec. Results are cached by the prepared sources' digest, so re-planning an unchanged
stream parses nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import queue
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from . import procs, sandbox
from .errors import AnalysisError
from .graph import ComponentFacts
from .specparse import SpecRequest
from .workdir import atomic_write, disk_full, is_disk_full

SPEC_TIMEOUT = 120.0
ANALYSIS_VERSION = 2


@dataclass(frozen=True)
class BinaryPackage:
    """One binary package a spec builds, with the Provides the spec gives it."""

    name: str
    provides: Tuple[str, ...] = ()
    requires: Tuple[str, ...] = ()


@dataclass(frozen=True)
class Generator:
    """One call in a spec's ``%generate_buildrequires``: ``pyproject``, ``cargo``, ``go``, ``echo`` or ``other``."""

    kind: str
    args: Tuple[str, ...] = ()
    text: str = ""
    directory: str = ""  # where a cd/pushd before the call went, relative to the sources


@dataclass(frozen=True)
class DynamicRequires:
    """BuildRequires that ``%generate_buildrequires`` adds, as far as stream-build could learn them.

    ``exact`` when the generator itself (or its exact emulation on the sources) ran; ``notes``
    say what could not be learned ("the order may be incomplete").
    """

    requires: Tuple[str, ...] = ()
    exact: bool = False
    notes: Tuple[str, ...] = ()

    def to_json(self) -> Dict[str, Any]:
        return {"requires": list(self.requires), "exact": self.exact, "notes": list(self.notes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "DynamicRequires":
        return cls(tuple(data.get("requires", ())), bool(data.get("exact")), tuple(data.get("notes", ())))


@dataclass(frozen=True)
class Analysis:
    """What rpm says about one component's spec for one base."""

    name: str
    version: str
    release: str
    buildrequires: Tuple[str, ...]
    packages: Tuple[BinaryPackage, ...]
    epoch: Optional[int] = None
    generators: Tuple[Generator, ...] = ()
    hints: Tuple[Tuple[str, str], ...] = ()  # (%goipath, ...), (%pypi_name, ...)
    approximate: Tuple[str, ...] = ()  # why this is not exactly what Fedora's own macros would give
    sources: Tuple[str, ...] = ()
    dynamic: Optional[DynamicRequires] = field(default=None)

    @property
    def package_names(self) -> Tuple[str, ...]:
        return tuple(p.name for p in self.packages)

    @property
    def provides(self) -> Tuple[str, ...]:
        return tuple(p for package in self.packages for p in package.provides)

    @property
    def evr(self) -> str:
        prefix = f"{self.epoch}:" if self.epoch else ""
        return f"{prefix}{self.version}-{self.release}"

    @property
    def all_buildrequires(self) -> Tuple[str, ...]:
        """Static BuildRequires, then the dynamic ones learned so far (no repeats)."""
        extra = self.dynamic.requires if self.dynamic else ()
        return tuple(dict.fromkeys((*self.buildrequires, *extra)))

    @property
    def facts(self) -> ComponentFacts:
        return ComponentFacts(self.name, self.all_buildrequires, self.provides)

    def hint(self, name: str) -> str:
        return dict(self.hints).get(name, "")

    def to_json(self) -> Dict[str, Any]:
        return {
            "name": self.name,
            "epoch": self.epoch,
            "version": self.version,
            "release": self.release,
            "buildrequires": list(self.buildrequires),
            "packages": [{"name": p.name, "provides": list(p.provides), "requires": list(p.requires)}
                         for p in self.packages],
            "generators": [{"kind": g.kind, "args": list(g.args), "text": g.text, "dir": g.directory}
                           for g in self.generators],
            "hints": dict(self.hints),
            "approximate": list(self.approximate),
            "sources": list(self.sources),
            "dynamic": self.dynamic.to_json() if self.dynamic else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Analysis":
        dynamic = data.get("dynamic")
        generators = data.get("generators")
        hints = data.get("hints")
        return cls(
            name=str(data["name"]),
            version=str(data["version"]),
            release=str(data["release"]),
            buildrequires=tuple(data["buildrequires"]),
            packages=tuple([BinaryPackage(str(p["name"]), tuple(p.get("provides", ())), tuple(p.get("requires", ())))
                            for p in data["packages"]]),
            epoch=data.get("epoch"),
            generators=tuple([Generator(str(g["kind"]), tuple(g.get("args", ())), str(g.get("text", "")),
                                        str(g.get("dir", ""))) for g in generators]) if generators else (),
            hints=tuple(sorted((str(k), str(v)) for k, v in dict(hints).items())) if hints else (),
            approximate=tuple(data.get("approximate", ())),
            sources=tuple(data.get("sources", ())),
            dynamic=DynamicRequires.from_json(dynamic) if dynamic else None,
        )


_MACROS_JSON: Dict[Tuple[Tuple[Tuple[str, str], ...], Tuple[Tuple[str, str], ...]], str] = {}


@dataclass(frozen=True)
class SpecJob:
    """One spec to analyse: the component, the spec's path, the macros to define, and a cache key."""

    name: str
    spec_path: str
    macros: Tuple[Tuple[str, str], ...]
    source_digest: str
    fallback: Tuple[Tuple[str, str], ...] = ()  # defined only where the host lacks them (%python3_version)

    def cache_key(self) -> str:
        return self._cache_key

    @functools.cached_property
    def _cache_key(self) -> str:  # asked for several times a plan
        # json.dumps([ANALYSIS_VERSION, self.source_digest, self.macros, self.fallback], sort_keys=True),
        # with the macros' part written once for all the components that share them
        macros = _MACROS_JSON.get((self.macros, self.fallback))
        if macros is None:
            macros = f"{json.dumps(self.macros, sort_keys=True)}, {json.dumps(self.fallback, sort_keys=True)}"
            if len(_MACROS_JSON) < 1024:
                _MACROS_JSON[(self.macros, self.fallback)] = macros
        data = f"[{ANALYSIS_VERSION}, {json.dumps(self.source_digest)}, {macros}]"
        return hashlib.sha256(data.encode()).hexdigest()

    def request(self) -> SpecRequest:
        return SpecRequest(self.spec_path, self.macros, os.path.dirname(os.path.abspath(self.spec_path)),
                           self.fallback)


def define_args(macros: Sequence[Tuple[str, str]]) -> List[str]:
    args: List[str] = []
    for name, value in macros:
        args += ["--define", f"{name} {value}"]
    return args


def from_result(job: SpecJob, result: Mapping[str, Any]) -> Analysis:
    """An :class:`Analysis` from a parser result, or the :class:`AnalysisError` that names the spec."""
    spec = os.path.basename(job.spec_path)
    if not result.get("ok"):
        raise AnalysisError(f"component {job.name}: rpm cannot parse {spec}: {result.get('error') or 'no reason given'}")
    analysis = Analysis.from_json({**result, "dynamic": None})
    if analysis.name != job.name:
        if not analysis.approximate:
            raise AnalysisError(f"component {job.name}: its spec builds source package {analysis.name!r}, not {job.name!r}")
        note = f"the spec's Name expands to {analysis.name!r} with stream-build's stand-ins; taken as {job.name!r}"
        analysis = replace(analysis, name=job.name, approximate=analysis.approximate + (note,))
    return analysis


class _Worker:
    """One sandboxed ``python -m streambuild.specparse`` process."""

    def __init__(self, readable: Sequence[str]) -> None:
        argv = [sys.executable, "-m", "streambuild.specparse"]
        box = sandbox.Sandbox(readable=tuple(readable), fedora_shell=True,
                              env={"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)})
        cmd = sandbox.command(box, argv, "spec analysis")
        try:  # its own process group, which dies with stream-build (procs) and is killed whole on a timeout
            self.proc = procs.popen(cmd, group=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.DEVNULL)
        except FileNotFoundError as exc:
            raise AnalysisError(f"cannot start the spec parser: {exc}") from None
        self._buffer = b""

    def ask(self, request: SpecRequest, timeout: float) -> Optional[Dict[str, Any]]:
        """The parser's answer, or ``None`` when it took longer than ``timeout`` or died."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write((json.dumps(request.to_json()) + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([fd], [], [], left)
            if not ready:
                return None
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            answer = json.loads(line)
        except ValueError:
            return None
        return answer if isinstance(answer, dict) else None

    def stop(self) -> None:
        try:
            if self.proc.stdin:
                self.proc.stdin.close()
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self.kill()

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()


class Parsers:
    """Sandboxed parser processes started before the specs they will parse are there (a cold plan
    starts them while it locks and fetches, so that their start costs no wall time), each with a
    read-only view of ``readable``; :func:`parse_specs` takes them over, :meth:`close` stops the rest."""

    def __init__(self, readable: Sequence[str], count: int) -> None:
        self.readable = tuple(os.path.abspath(p) for p in readable)
        self._lock = threading.Lock()
        self._idle: List[_Worker] = []
        try:
            for _ in range(count):
                self._idle.append(_Worker(self.readable))
        except BaseException:
            self.close()
            raise

    def covers(self, paths: Sequence[str]) -> bool:
        """Whether every one of ``paths`` is in the parsers' view."""
        return all(any(os.path.abspath(p).startswith(root.rstrip("/") + "/") for root in self.readable) for p in paths)

    def take(self) -> Optional[_Worker]:
        with self._lock:
            return self._idle.pop() if self._idle else None

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.stop()


def readable_roots(paths: Sequence[str]) -> List[str]:
    """The fewest directories that hold every spec's directory (what the sandbox binds back)."""
    dirs = sorted({os.path.dirname(os.path.abspath(p)) for p in paths})
    roots: List[str] = []
    for d in dirs:
        if roots and (d == roots[-1] or d.startswith(roots[-1].rstrip("/") + "/")):
            continue
        roots.append(d)
    if len(roots) > 64:  # many separate trees: bind their common parent, unless that is /tmp itself
        common = os.path.commonpath(roots)
        if common not in ("/", "/tmp"):
            return [common]
    return roots


def parse_specs(jobs: Sequence[SpecJob], workers: int = 0, timeout: float = SPEC_TIMEOUT,
                parsers: Optional[Parsers] = None) -> Dict[str, Dict[str, Any]]:
    """Parser results for every job, by component name, from sandboxed workers in parallel.

    A spec that hangs (``%(sleep 1000)``, ``%{lua: while true do end}``) is answered with an
    error after ``timeout`` seconds; its worker is killed and replaced. ``parsers`` started
    earlier are used first, when every spec is in their view.
    """
    results: Dict[str, Dict[str, Any]] = {}
    if not jobs:
        return results
    if parsers is not None and not parsers.covers([j.spec_path for j in jobs]):
        parsers = None
    readable = list(parsers.readable) if parsers is not None else readable_roots([j.spec_path for j in jobs])
    count = max(1, min(len(jobs), workers or (os.cpu_count() or 2)))
    todo: "queue.Queue[SpecJob]" = queue.Queue()
    for job in jobs:
        todo.put(job)
    failures: List[BaseException] = []

    def run() -> None:
        worker: Optional[_Worker] = None
        try:
            while True:
                try:
                    job = todo.get_nowait()
                except queue.Empty:
                    return
                if worker is None:
                    worker = (parsers.take() if parsers is not None else None) or _Worker(readable)
                answer = worker.ask(job.request(), timeout)
                if answer is None:
                    worker.kill()
                    worker = None
                    answer = {"ok": False, "error": f"the parser took longer than {timeout:g} s or died (is a macro "
                                                    "looping, or waiting for something?)"}
                results[job.name] = answer
        except BaseException as exc:  # noqa: BLE001 - reported by the caller's thread
            failures.append(exc)
        finally:
            if worker is not None:
                worker.stop()

    threads = [threading.Thread(target=run, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]
    return results


def analyse_spec(job: SpecJob) -> Analysis:
    """Analyse one spec (in its own sandboxed parser)."""
    return from_result(job, parse_specs([job], workers=1)[job.name])


class AnalysisCache:
    """Analyses by :meth:`SpecJob.cache_key`, in one file per work directory.

    ``analyses.jsonl`` in ``directory`` holds a line per analysis, ``<key>\\t<JSON>``, appended
    as analyses are made; a later line for the same key wins. It is read once, and a line is
    decoded only when asked for, so a re-plan of an unchanged stream reads one file however
    many specs it has. A line cut short by a crash is a miss (the spec is analysed again);
    when most lines have been superseded the file is rewritten with the latest ones. Analyses
    cached one file each by earlier versions (``<key[:2]>/<key>.json``) are still found.
    """

    FILE = "analyses.jsonl"

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self.path = os.path.join(directory, self.FILE)
        self._lines: Optional[Dict[str, bytes]] = None
        self._count = 0  # lines in the file, superseded ones included
        self._ends_cleanly = True
        self._lock = threading.Lock()

    def _load(self) -> Dict[str, bytes]:
        if self._lines is None:
            try:
                with open(self.path, "rb") as handle:
                    data = handle.read()
            except FileNotFoundError:
                data = b""
            lines: Dict[str, bytes] = {}
            count = 0
            for line in data.split(b"\n"):
                key, tab, raw = line.partition(b"\t")
                if tab and len(key) == 64:
                    lines[key.decode("ascii", "replace")] = raw
                    count += 1
            self._lines, self._count, self._ends_cleanly = lines, count, data.endswith(b"\n") or not data
        return self._lines

    def _legacy(self, key: str) -> Optional[Analysis]:
        try:
            with open(os.path.join(self.directory, key[:2], f"{key}.json")) as handle:
                return Analysis.from_json(json.load(handle))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def empty(self) -> bool:
        """Whether nothing has been analysed in this work directory yet (a cold plan)."""
        return not os.path.exists(self.path) and not any(
            len(name) == 2 for name in (os.listdir(self.directory) if os.path.isdir(self.directory) else ()))

    def get(self, job: SpecJob) -> Optional[Analysis]:
        key = job.cache_key()
        with self._lock:
            raw = self._load().get(key)
        if raw is None:
            return self._legacy(key)
        try:
            return Analysis.from_json(json.loads(raw))
        except (ValueError, KeyError, TypeError):
            return None

    def fingerprint(self, jobs: Sequence[SpecJob]) -> Optional[str]:
        """The digest of the cached analyses of ``jobs`` as stored (their lines), or ``None`` when one of
        them is not in the file (not analysed yet, or cached by an earlier version)."""
        digest = hashlib.sha256()
        with self._lock:
            lines = self._load()
            for job in jobs:
                raw = lines.get(job.cache_key())
                if raw is None:
                    return None
                digest.update(raw)
                digest.update(b"\n")
        return digest.hexdigest()

    def put(self, job: SpecJob, analysis: Analysis) -> None:
        self.put_many([(job, analysis)])

    def put_many(self, items: Sequence[Tuple[SpecJob, Analysis]]) -> None:
        """Add analyses (one append and one ``fsync`` for all of them)."""
        if not items:
            return
        lines = [(job.cache_key(), json.dumps(analysis.to_json()).encode()) for job, analysis in items]
        with self._lock:
            known = self._load()
            known.update(lines)
            self._count += len(lines)
            try:
                if self._count > 2 * len(known) + 1000:  # mostly superseded lines: keep the latest only
                    atomic_write(self.path, b"".join(k.encode() + b"\t" + v + b"\n" for k, v in known.items()))
                    self._count, self._ends_cleanly = len(known), True
                    return
                os.makedirs(self.directory, exist_ok=True)
                with open(self.path, "ab") as handle:
                    if not self._ends_cleanly:
                        handle.write(b"\n")  # after a line a crash cut short
                    handle.write(b"".join(k.encode() + b"\t" + v + b"\n" for k, v in lines))
                    handle.flush()
                    os.fsync(handle.fileno())
                self._ends_cleanly = True
            except OSError as exc:
                if is_disk_full(exc):
                    raise disk_full(self.path, "writing the analysis cache") from None
                raise


def analyse_all(jobs: Sequence[SpecJob], cache: Optional[AnalysisCache] = None, workers: int = 0,
                parsers: Optional[Parsers] = None) -> Dict[str, Analysis]:
    """Analyse every job (cached ones are not parsed again), in manifest order, with ``parsers``
    started beforehand where they can (:func:`parse_specs`).

    Every spec that fails is reported together in one :class:`AnalysisError`, naming each.
    """
    results: Dict[str, Analysis] = {}
    todo = []
    for job in jobs:
        hit = cache.get(job) if cache else None
        if hit is not None:
            results[job.name] = hit
        else:
            todo.append(job)
    failures: List[str] = []
    parsed = parse_specs(todo, workers, parsers=parsers)
    made = []
    for job in todo:
        try:
            analysis = from_result(job, parsed[job.name])
        except AnalysisError as exc:
            failures.append(exc.message)
            continue
        results[job.name] = analysis
        made.append((job, analysis))
    if cache:
        cache.put_many(made)
    if failures:
        raise AnalysisError("; ".join(sorted(failures)))
    return {job.name: results[job.name] for job in jobs}
