"""The last plan, kept in the work directory with the digest of everything it was made from.

A re-plan of a stream whose inputs have not changed (the same manifest set, locked commits,
cached analyses, base metadata, built Provides, expected durations and planner code) reads
the plan back instead of matching every BuildRequires again: at 20,000 components matching
is most of a re-plan. :func:`plan_key` is that digest; a plan is read back only when the
file holds a plan under exactly that key, for exactly the components asked for, and only
the order and the graph come from the file: commits, analyses and ``buildonly`` are the
caller's (from the lock and the manifest). Anything else in the file (another key, a
different set, a bad shape, a file cut short) is a miss, and the plan is made again.

The file is a cache, not a record (:mod:`streambuild.kept`).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from . import kept
from .analyse import Analysis
from .graph import Edge, Link
from .plan import Plan, PlannedComponent
from .predict import Predicted

FILE = "plan.json"
VERSION = 1

# The modules whose code decides a plan from its inputs: a change to any of them is a new key.
_PLANNER = ("analyse.py", "baserepo.py", "capabilities.py", "graph.py", "plan.py", "plancache.py", "predict.py",
            "providers.py", "scheduler.py")


def plan_key(
    stream: str,
    base: str,
    components: Sequence[Tuple[str, str, bool]],
    analyses: str,
    base_index: Optional[str],
    durations: Mapping[str, float],
    duration_sources: Mapping[str, str],
    built: Mapping[str, Mapping[str, Sequence[str]]],
    python_version: str,
    notes: Sequence[str],
) -> str:
    """The digest of a plan's inputs: ``components`` are (name, commit, buildonly) in manifest order,
    ``analyses`` the digest of their cached analyses (:meth:`AnalysisCache.fingerprint`), ``base_index``
    that of the base's metadata (:attr:`BaseProvides.fingerprint`, ``None`` without a base)."""
    data = json.dumps([VERSION, kept.code_digest(_PLANNER), stream, base, list(components), analyses, base_index,
                       sorted(durations.items()), sorted(duration_sources.items()),
                       sorted((name, sorted(packages.items())) for name, packages in built.items()),
                       python_version, list(notes)], separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


class _Unpackable(Exception):
    """A string the file's packed lists cannot hold (one with a NUL): the plan is not kept."""


def _pack(items: Sequence[str]) -> str:
    """``items`` as one string (each led by a NUL): read back by a split, not by a check per item."""
    if any("\0" in item for item in items):
        raise _Unpackable()
    return "".join("\0" + item for item in items)


def _unpack(value: Any) -> Tuple[str, ...]:
    if not isinstance(value, str) or (value and value[0] != "\0"):
        raise ValueError("not a packed list of strings")
    return tuple(value.split("\0")[1:]) if value else ()


def _link(link: Link) -> List[Any]:
    return [link.requirement, link.provide, link.source, link.generated]


def _edge(edge: Edge, links: Dict[Link, int], table: List[List[Any]]) -> List[Any]:
    refs = []
    for link in edge.links:
        ref = links.get(link)
        if ref is None:
            ref = links[link] = len(table)
            table.append(_link(link))
        refs.append(ref)
    return [edge.dependent, edge.dependency, _pack(edge.capabilities), edge.soft, refs]


def _data(key: str, plan: Plan) -> Dict[str, Any]:
    links: Dict[Link, int] = {}
    table: List[List[Any]] = []
    return {
        "version": VERSION,
        "key": key,
        "stream": plan.stream,
        "base": plan.base,
        "components": [[c.name, _pack(c.after), _pack(c.provides.provides) if c.provides else None,
                        _pack(c.provides.sources) if c.provides else None] for c in plan.components],
        "batches": [_pack(b) for b in plan.batches],
        "critical_path": _pack(plan.critical_path),
        "edges": [_edge(e, links, table) for e in plan.edges],
        "broken": [_edge(e, links, table) for e in plan.broken],
        "durations": [list(d) for d in plan.durations],
        "notes": _pack(plan.notes),
        "links": table,
    }


def store(directory: str, key: str, plan: Plan) -> None:
    """Keep ``plan`` under ``key`` in ``directory`` (:func:`streambuild.kept.keep`: never fails the plan)."""
    try:
        data = json.dumps(_data(key, plan), separators=(",", ":")).encode()
    except _Unpackable:
        return
    kept.keep(os.path.join(directory, FILE), data)


def load(directory: str, key: str, stream: str, base: str, analyses: Mapping[str, Analysis],
         commits: Mapping[str, str], buildonly: Mapping[str, bool]) -> Optional[Plan]:
    """The plan of ``stream`` on ``base`` kept under ``key`` for exactly the components of ``analyses``, or
    ``None``."""
    try:
        with open(os.path.join(directory, FILE), "rb") as handle:
            data = json.loads(handle.read())
        if (not isinstance(data, dict) or data.get("version") != VERSION or data.get("key") != key
                or data.get("stream") != stream or data.get("base") != base):
            return None
        return _plan(data, analyses, commits, buildonly)
    except (OSError, ValueError, TypeError, KeyError, IndexError):
        return None


def _plan(data: Dict[str, Any], analyses: Mapping[str, Analysis], commits: Mapping[str, str],
          buildonly: Mapping[str, bool]) -> Optional[Plan]:
    rows = data["components"]
    if not isinstance(rows, list) or len(rows) != len(analyses):
        return None
    names: Set[str] = set()
    components = []
    for name, after, provides, sources in rows:
        if name not in analyses or name in names:
            return None
        names.add(name)
        after = _unpack(after)
        predicted = None if provides is None else Predicted(_unpack(provides), _unpack(sources))
        components.append(PlannedComponent(name, commits[name], bool(buildonly.get(name)), after, analyses[name],
                                           predicted))
    # a component may only come after components before it: the order is a valid build order
    seen: Set[str] = set()
    for component in components:
        if not seen.issuperset(component.after):
            return None
        seen.add(component.name)
    links = [Link(str(r), str(p), str(s), bool(g)) for r, p, s, g in data["links"]]

    def edges(rows: List[Any]) -> Tuple[Edge, ...]:
        out = []
        for dependent, dependency, capabilities, soft, refs in rows:
            if dependent not in names or dependency not in names:
                raise ValueError("an edge names a component outside the set")
            out.append(Edge(dependent, dependency, _unpack(capabilities), bool(soft), tuple(links[i] for i in refs)))
        return tuple(out)

    batches = tuple(_unpack(b) for b in data["batches"])
    path = _unpack(data["critical_path"])
    if not names.issuperset(path) or sorted(n for b in batches for n in b) != sorted(names):
        return None
    durations = tuple((str(n), float(s), str(src)) for n, s, src in data["durations"])
    return Plan(data["stream"], data["base"], tuple(components), batches, path, edges(data["broken"]),
                durations, edges(data["edges"]), _unpack(data["notes"]))
