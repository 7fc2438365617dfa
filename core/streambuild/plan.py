"""The plan: components in dependency order, with batches and the critical path.

Edges come from the analyses (B needs A when a BuildRequires of B is provided by
A); cycles are broken where the base can satisfy the edge, and the order is a DAG
scheduled by critical-path priority. Batches are shown for people; the executor
does not wait for a batch to finish.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from . import graph, scheduler
from .analyse import Analysis


@dataclass(frozen=True)
class PlannedComponent:
    name: str
    commit: str
    buildonly: bool
    after: Tuple[str, ...]  # components it needs, directly
    analysis: Analysis


@dataclass(frozen=True)
class Plan:
    stream: str
    base: str
    components: Tuple[PlannedComponent, ...]  # in a valid build order
    batches: Tuple[Tuple[str, ...], ...]
    critical_path: Tuple[str, ...]
    broken: Tuple[graph.Edge, ...]  # soft edges dropped to break cycles
    durations: Tuple[Tuple[str, float, str], ...] = ()  # (component, expected seconds, where it came from)

    def duration(self, name: str) -> Optional[Tuple[float, str]]:
        """The expected build seconds of ``name`` and their source (see :mod:`streambuild.durations`)."""
        for comp, seconds, source in self.durations:
            if comp == name:
                return seconds, source
        return None

    @property
    def dependencies(self) -> Dict[str, Tuple[str, ...]]:
        return {c.name: c.after for c in self.components}

    def component(self, name: str) -> PlannedComponent:
        for comp in self.components:
            if comp.name == name:
                return comp
        raise KeyError(name)

    def closure(self, name: str) -> List[str]:
        """Every component ``name`` needs, directly or not, in build order."""
        deps = self.dependencies
        seen: Dict[str, None] = {}
        stack = list(deps[name])
        while stack:
            item = stack.pop()
            if item not in seen:
                seen[item] = None
                stack.extend(deps[item])
        order = {c.name: i for i, c in enumerate(self.components)}
        return sorted(seen, key=order.__getitem__)

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
                    "packages": list(c.analysis.packages),
                    **({"duration": {"seconds": round(d[0], 1), "source": d[1]}}
                       if (d := self.duration(c.name)) is not None else {}),
                }
                for c in self.components
            ],
            "batches": [list(b) for b in self.batches],
            "critical_path": list(self.critical_path),
            "broken_edges": [
                {"component": e.dependent, "built_before": e.dependency, "capabilities": list(e.capabilities)}
                for e in self.broken
            ],
        }

    def to_dot(self) -> str:
        lines = [f'digraph "{self.stream}" {{', "  rankdir=LR;"]
        critical = set(self.critical_path)
        for comp in self.components:
            style = ' style="dashed"' if comp.buildonly else ""
            color = ' color="red"' if comp.name in critical else ""
            lines.append(f'  "{comp.name}" [shape=box{style}{color}];')
        for comp in self.components:
            for dep in comp.after:
                lines.append(f'  "{dep}" -> "{comp.name}";')
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
        if self.durations:
            shown = ", ".join(f"{n} {s:.0f}s ({source})" for n, s, source in self.durations)
            out.append(f"  expected durations: {shown}")
        for edge in self.broken:
            out.append(
                f"  cycle broken: {edge.dependent} is built against the base's "
                f"{', '.join(edge.capabilities)} before {edge.dependency}"
            )
        return "\n".join(out)


def make_plan(
    stream: str,
    base: str,
    analyses: Mapping[str, Analysis],
    commits: Mapping[str, str],
    buildonly: Mapping[str, bool],
    base_provides: Callable[[str], bool] = lambda cap: False,
    durations: Optional[Mapping[str, float]] = None,
    duration_sources: Optional[Mapping[str, str]] = None,
) -> Plan:
    """Order ``analyses`` (in manifest order) into a plan; raise PlanError for a cycle the base cannot break."""
    names: Sequence[str] = list(analyses)
    dep_graph = graph.build_graph((analyses[n].facts for n in names), base_provides)
    dag = dep_graph.to_dag(restore_soft=True)
    deps = {n: tuple(sorted(dag.dependencies.get(n, ()))) for n in names}
    batches = scheduler.topological_batches(deps)
    path, _length = scheduler.critical_path(deps, durations)
    position = {name: index for index, batch in enumerate(batches) for name in batch}
    manifest_order = {name: index for index, name in enumerate(names)}
    ordered = sorted(names, key=lambda n: (position[n], manifest_order[n]))
    components = tuple(
        PlannedComponent(n, commits[n], bool(buildonly.get(n)), deps[n], analyses[n]) for n in ordered
    )
    shown = tuple((n, float(durations[n]), duration_sources[n]) for n in ordered
                  if durations and duration_sources and n in durations and n in duration_sources)
    return Plan(stream, base, components, tuple(tuple(b) for b in batches), tuple(path), tuple(dag.broken), shown)
