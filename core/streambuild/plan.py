"""The plan: components in dependency order, with batches, the critical path, and why each edge is there.

Edges come from the analyses (B needs A when a BuildRequires of B, static or generated, is
provided by A, versions compared as rpm compares them), with A's Provides as they are best
known (:mod:`streambuild.predict`: built, spec, base metadata, conventions). Cycles are broken
where the base can satisfy the edge, and the order is a DAG scheduled by critical-path
priority. Batches are shown for people; the executor does not wait for a batch to finish.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from . import graph, scheduler
from .analyse import Analysis
from .baserepo import BaseProvides
from .errors import PlanError
from .predict import Predicted, predict


@dataclass(frozen=True)
class PlannedComponent:
    name: str
    commit: str
    buildonly: bool
    after: Tuple[str, ...]  # components it needs, directly
    analysis: Analysis
    provides: Optional[Predicted] = field(default=None, compare=False)

    @property
    def exact(self) -> bool:
        """Its Provides are known from its own built RPMs."""
        return self.provides is not None and bool(self.provides.sources) and set(self.provides.sources) == {"built"}


@dataclass(frozen=True)
class Plan:
    stream: str
    base: str
    components: Tuple[PlannedComponent, ...]  # in a valid build order
    batches: Tuple[Tuple[str, ...], ...]
    critical_path: Tuple[str, ...]
    broken: Tuple[graph.Edge, ...]  # soft edges dropped to break cycles
    durations: Tuple[Tuple[str, float, str], ...] = ()  # (component, expected seconds, where it came from)
    edges: Tuple[graph.Edge, ...] = ()  # every edge kept, with its links
    notes: Tuple[str, ...] = ()  # what the plan could not know for sure ("the order may be incomplete")

    def __post_init__(self) -> None:
        index = {c.name: c for c in self.components}
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_position", {c.name: i for i, c in enumerate(self.components)})
        object.__setattr__(self, "_closures", {})
        object.__setattr__(self, "_durations", {n: (seconds, source) for n, seconds, source in self.durations})

    def duration(self, name: str) -> Optional[Tuple[float, str]]:
        """The expected build seconds of ``name`` and their source (see :mod:`streambuild.durations`)."""
        return self._durations.get(name)  # type: ignore[attr-defined,no-any-return]

    @property
    def dependencies(self) -> Dict[str, Tuple[str, ...]]:
        return {c.name: c.after for c in self.components}

    def component(self, name: str) -> PlannedComponent:
        return self._index[name]  # type: ignore[attr-defined,no-any-return]

    def position(self, name: str) -> int:
        """Where ``name`` is in the build order (:attr:`components`)."""
        return self._position[name]  # type: ignore[attr-defined,no-any-return]

    def closure(self, name: str) -> List[str]:
        """Every component ``name`` needs, directly or not, in build order (computed once per name)."""
        closures: Dict[str, List[str]] = self._closures  # type: ignore[attr-defined]
        hit = closures.get(name)
        if hit is not None:
            return list(hit)
        index: Dict[str, PlannedComponent] = self._index  # type: ignore[attr-defined]
        seen: Dict[str, None] = {}
        stack = list(index[name].after)
        while stack:
            item = stack.pop()
            if item not in seen:
                seen[item] = None
                stack.extend(index[item].after)
        position: Dict[str, int] = self._position  # type: ignore[attr-defined]
        closures[name] = sorted(seen, key=position.__getitem__)
        return list(closures[name])

    def edge_entries(self) -> List[Dict[str, object]]:
        """One entry per reason of every edge: ``from`` is built before ``to``."""
        out: List[Dict[str, object]] = []
        for edge in self.edges:
            for link in edge.links or (graph.Link(", ".join(edge.capabilities), "", "spec"),):
                out.append({"from": edge.dependency, "to": edge.dependent, "capability": link.requirement,
                            "provide": link.provide, "source": link.source, "predicted": link.predicted,
                            "requirement": "generated" if link.generated else "spec"})
        return out

    def to_json(self) -> Dict[str, object]:
        return {
            "stream": self.stream,
            "base": self.base,
            "components": [
                {
                    "name": c.name,
                    "commit": c.commit,
                    "buildonly": c.buildonly,
                    "after": list(c.after),
                    "version": f"{c.analysis.version}-{c.analysis.release}",
                    "packages": list(c.analysis.package_names),
                    "provides_known_from": sorted(set(c.provides.sources)) if c.provides else ["spec"],
                    "approximate": list(c.analysis.approximate),
                    "dynamic_buildrequires": c.analysis.dynamic.to_json() if c.analysis.dynamic else None,
                    **({"duration": {"seconds": round(d[0], 1), "source": d[1]}}
                       if (d := self.duration(c.name)) is not None else {}),
                }
                for c in self.components
            ],
            "edges": self.edge_entries(),
            "batches": [list(b) for b in self.batches],
            "critical_path": list(self.critical_path),
            "broken_edges": [
                {"component": e.dependent, "built_before": e.dependency, "capabilities": list(e.capabilities)}
                for e in self.broken
            ],
            "notes": list(self.notes),
        }

    def to_dot(self) -> str:
        lines = [f'digraph "{self.stream}" {{', "  rankdir=LR;"]
        critical = set(self.critical_path)
        for comp in self.components:
            style = ' style="dashed"' if comp.buildonly else ""
            color = ' color="red"' if comp.name in critical else ""
            lines.append(f'  "{comp.name}" [shape=box{style}{color}];')
        for edge in self.edges:
            label = "" if edge.source == "spec" else f' [label="{edge.source}"{" style=dashed" if edge.predicted else ""}]'
            lines.append(f'  "{edge.dependency}" -> "{edge.dependent}"{label};')
        for edge in self.broken:
            caps = ", ".join(edge.capabilities)
            lines.append(f'  "{edge.dependency}" -> "{edge.dependent}" [style="dotted" label="base: {caps}"];')
        lines.append("}")
        return "\n".join(lines) + "\n"

    def describe(self) -> str:
        out = [f"stream {self.stream} on {self.base}: {len(self.components)} components"]
        for index, batch in enumerate(self.batches, start=1):
            out.append(f"  batch {index}: {', '.join(batch)}")
        out.append(f"  critical path: {' -> '.join(self.critical_path)}")
        certain: List[graph.Edge] = []
        predicted: List[graph.Edge] = []
        for edge in self.edges:  # each edge asked once (80,000 for Fedora)
            (predicted if edge.predicted else certain).append(edge)
        if certain:
            out.append("  edges (known):")
            out += [f"    {_edge_line(e)}" for e in certain]
        if predicted:
            out.append("  edges (predicted: the Provides are not built yet):")
            out += [f"    {_edge_line(e)}" for e in predicted]
        if self.durations:
            shown = ", ".join(f"{n} {s:.0f}s ({source})" for n, s, source in self.durations)
            out.append(f"  expected durations: {shown}")
        for edge in self.broken:
            out.append(
                f"  cycle broken: {edge.dependent} is built against the base's "
                f"{', '.join(edge.capabilities)} before {edge.dependency}"
            )
        for note in self.notes:
            out.append(f"  note: {note}")
        return "\n".join(out)


def _edge_line(edge: graph.Edge) -> str:
    links = edge.links
    reasons = ", ".join([f"{link.requirement} [{link.source}]" for link in links[:3]])
    more = f" and {len(links) - 3} more" if len(links) > 3 else ""
    return f"{edge.dependent} after {edge.dependency}: {reasons or ', '.join(edge.capabilities)}{more}"


def unmet_error(unmet: Sequence[graph.Unmet]) -> Optional[PlanError]:
    """The plan-time error for versioned requirements the stream names but cannot meet, if any must stop it.

    One stops the plan when a fact (not a prediction) says the stream's version is wrong and
    the base cannot meet the requirement either.
    """
    fatal = [u for u in unmet if u.certain and not u.base_satisfies]
    if not fatal:
        return None
    return PlanError("; ".join(u.describe() for u in fatal))


@graph.gc_paused()  # tens of thousands of small acyclic objects: the collector would find nothing
def make_plan(
    stream: str,
    base: str,
    analyses: Mapping[str, Analysis],
    commits: Mapping[str, str],
    buildonly: Mapping[str, bool],
    base_provides: "graph.BaseLike" = lambda cap: False,
    durations: Optional[Mapping[str, float]] = None,
    duration_sources: Optional[Mapping[str, str]] = None,
    built: Optional[Mapping[str, Mapping[str, Sequence[str]]]] = None,
    python_version: str = "3",
    notes: Sequence[str] = (),
) -> Plan:
    """Order ``analyses`` (in manifest order) into a plan.

    ``built`` maps components already built with these sources to their binary packages'
    real Provides; the rest are predicted. Raises :class:`PlanError` for a cycle the base
    cannot break and for a versioned requirement the stream cannot meet.
    """
    names: Sequence[str] = list(analyses)
    index = base_provides if isinstance(base_provides, BaseProvides) else None
    predicted = {n: predict(analyses[n], index, (built or {}).get(n), python_version) for n in names}
    dep_graph = graph.build_graph((predicted[n].facts(analyses[n]) for n in names), base_provides)
    error = unmet_error(dep_graph.unmet)
    if error is not None:
        raise error
    all_notes: List[str] = list(notes)
    for unmet in dep_graph.unmet:
        if not (unmet.certain and not unmet.base_satisfies):
            all_notes.append(unmet.describe() + (": the base meets it" if unmet.base_satisfies else ""))
    dag = dep_graph.to_dag(restore_soft=True)
    deps = {n: tuple(sorted(dag.dependencies.get(n, ()))) for n in names}
    order = scheduler.Dag(deps)
    batches = scheduler.topological_batches(order)
    path, _length = scheduler.critical_path(order, durations)
    position = {name: index for index, batch in enumerate(batches) for name in batch}
    manifest_order = {name: index for index, name in enumerate(names)}
    ordered = sorted(names, key=lambda n: (position[n], manifest_order[n]))
    components = tuple(
        PlannedComponent(n, commits[n], bool(buildonly.get(n)), deps[n], analyses[n], predicted[n]) for n in ordered
    )
    broken = set((e.dependent, e.dependency) for e in dag.broken)
    kept = tuple(e for e in dep_graph.iter_edges() if (e.dependent, e.dependency) not in broken)
    shown = tuple((n, float(durations[n]), duration_sources[n]) for n in ordered
                  if durations and duration_sources and n in durations and n in duration_sources)
    return Plan(stream, base, components, tuple(tuple(b) for b in batches), tuple(path), tuple(dag.broken), shown,
                kept, tuple(all_notes))

