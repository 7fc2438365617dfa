"""The build-dependency graph of a set of components, and how its cycles are broken.

Component B *needs* component A when a BuildRequires of B names a capability that A provides
(for a rich dependency: any of its operand names). The graph's edges run from the dependent to
the dependency (B -> A); A must be built first.

Cycles are normal at distribution scale. An edge is *soft* when the base distribution can also
satisfy every BuildRequires of B that made the edge: B can then be built against the base
first, and the edge can be dropped to break a cycle. A cycle made only of hard edges cannot be
broken and is reported as a readable path (:class:`~streambuild.errors.PlanError`).
"""

from __future__ import annotations

import gc
import heapq
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import (
    Callable,
    Dict,
    FrozenSet,
    Generator,
    Iterable,
    Iterator,
    List,
    Mapping,
    Optional,
    Protocol,
    Sequence,
    Set,
    Tuple,
    Union,
)

from ._foreign.rpmlib import Capability
from .capabilities import Dependency, SimpleDep, leaves, parse_dependency, satisfied
from .errors import PlanError
from .providers import Offer, ProviderIndex

__all__ = ["ComponentFacts", "Link", "Edge", "Unmet", "DagResult", "DepGraph", "build_graph", "BaseIndex",
           "strongly_connected",
           "PREDICTED", "SOURCES"]

#: Where a provide (or an edge) came from, most certain first. ``generated``: the requirement
#: came from ``%generate_buildrequires``.
SOURCES = ("spec", "built", "generated", "base-metadata", "convention")
#: Sources that are predictions, not facts.
PREDICTED = frozenset({"base-metadata", "convention"})


class BaseIndex(Protocol):
    """What the base distribution provides (:class:`streambuild.baserepo.BaseProvides` is one)."""

    def satisfies(self, requirement: SimpleDep) -> bool:
        """Whether some base package meets ``requirement`` (versions compared by rpm's rules)."""


@dataclass(frozen=True)
class ComponentFacts:
    """What is known of one component: BuildRequires and Provides strings, and where they came from.

    ``provide_sources`` runs parallel to ``provides`` (``spec`` where it is shorter);
    ``dynamic`` names the BuildRequires that ``%generate_buildrequires`` adds.
    """

    name: str
    buildrequires: Tuple[str, ...]
    provides: Tuple[str, ...]
    provide_sources: Tuple[str, ...] = ()
    dynamic: FrozenSet[str] = frozenset()


@dataclass(frozen=True)
class Link:
    """One reason for an edge: ``requirement`` (a BuildRequires) is met by ``provide``, known from ``source``."""

    requirement: str
    provide: str
    source: str
    generated: bool = False  # the requirement came from %generate_buildrequires

    @property
    def predicted(self) -> bool:
        return self.source in PREDICTED


@dataclass(frozen=True)
class Edge:
    """``dependent`` needs ``dependency``: its BuildRequires ``capabilities`` are provided by it.

    ``soft`` is true when the base distribution can also satisfy every BuildRequires that made
    this edge, so the dependent can be built against the base instead. ``links`` say which
    requirement met which provide, and how that provide is known.
    """

    dependent: str
    dependency: str
    capabilities: Tuple[str, ...]
    soft: bool
    links: Tuple[Link, ...] = field(default=(), compare=False)

    @property
    def source(self) -> str:
        """The most certain way this edge is known (``spec`` before ``convention``)."""
        known = {link.source for link in self.links} or {"spec"}
        return min(known, key=SOURCES.index)

    @property
    def predicted(self) -> bool:
        """Only predictions make this edge (no link is a fact)."""
        return bool(self.links) and all(link.predicted for link in self.links)


@dataclass(frozen=True)
class Unmet:
    """A versioned BuildRequires of ``dependent`` that names what the set provides, in no version that meets it."""

    dependent: str
    requirement: str
    offered: Tuple[Tuple[str, str, str], ...]  # (component, provide, source)
    base_satisfies: bool

    @property
    def certain(self) -> bool:
        """Some offered provide is a fact (spec or built), not a prediction."""
        return any(source not in PREDICTED for _c, _p, source in self.offered)

    def describe(self) -> str:
        offers = "; ".join(f"the stream's {c} provides {p}" + (f" ({s})" if s in PREDICTED else "")
                           for c, p, s in self.offered[:3])
        return f"{self.dependent} needs {self.requirement}; {offers}"


@dataclass(frozen=True)
class DagResult:
    """An acyclic ordering of the set.

    ``dependencies`` maps every component (in input order) to the components it must wait for.
    ``broken`` are the soft edges dropped to break cycles (soft edges outside cycles are kept).
    """

    dependencies: Mapping[str, Tuple[str, ...]]
    broken: Tuple[Edge, ...]


@contextmanager
def gc_paused() -> Generator[None, None, None]:
    """Pause the cyclic garbage collector while a graph (or a plan) is built.

    Building tens of thousands of small acyclic objects makes the collector run over and over
    without finding anything; pausing it halves the planning time of a distribution-sized set.
    What was made meanwhile is then frozen (:func:`gc.freeze`) before the collector resumes:
    otherwise its next collection would walk every one of those objects, all still new to it
    (0.3 s for a 20,000-component plan), and so would the last one when the process ends. They
    are acyclic and freed as usual when unreferenced; only reference cycles made while the
    collector was paused are never collected (a plan makes none worth counting).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()


def _no_base(capability: str) -> bool:
    """The default base: provides nothing, so no edge is soft."""
    return False


def strongly_connected(
    nodes: Iterable[str], successors: Callable[[str], Iterable[str]]
) -> List[List[str]]:
    """Tarjan's algorithm without recursion: every SCC, trivial ones included.

    SCCs come out dependencies first: an SCC is listed after every SCC it can reach.
    """
    index: Dict[str, int] = {}
    low: Dict[str, int] = {}
    on_stack: Set[str] = set()
    stack: List[str] = []
    result: List[List[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        work: List[Tuple[str, Iterator[str]]] = [(root, iter(successors(root)))]
        while work:
            v, it = work[-1]
            descended = False
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter
                    counter += 1
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(successors(w))))
                    descended = True
                    break
                if w in on_stack and index[w] < low[v]:
                    low[v] = index[w]
            if descended:
                continue
            work.pop()
            if work:
                u = work[-1][0]
                if low[v] < low[u]:
                    low[u] = low[v]
            if low[v] == index[v]:
                component: List[str] = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                result.append(component)
    return result


#: Edge visits the search for a shortest cycle may spend across all its BFS runs (after the
#: first, which always completes). Finding the shortest cycle of a directed graph exactly costs
#: O(V * E); this keeps the report of a huge SCC (e.g. a 20,000-package ring) fast.
_CYCLE_SEARCH_BUDGET = 500_000


def _shortest_cycle(
    members: Sequence[str],
    successors: Callable[[str], Iterable[str]],
    budget: int = _CYCLE_SEARCH_BUDGET,
) -> List[str]:
    """A shortest cycle among ``members`` (which must contain one), by BFS from each member.

    Returned as ``[v0, v1, ..., vk]`` where each needs the next and ``vk`` needs ``v0``.
    The search from each start stops as soon as it cannot beat the best cycle so far, and the
    whole search stops once ``budget`` edge visits are spent: the cycle is then the shortest
    found so far (exact for every SCC of realistic size, where 2-cycles show up at once).
    """
    best: Optional[List[str]] = None
    spent = 0
    for start in members:
        if best is not None and spent >= budget:
            break
        if start in successors(start):
            return [start]
        parent: Dict[str, str] = {start: start}
        frontier = [start]
        depth = 0
        closing: Optional[str] = None
        while frontier and closing is None:
            depth += 1
            if best is not None and depth >= len(best):
                break
            following: List[str] = []
            for u in frontier:
                for w in successors(u):
                    spent += 1
                    if w == start:
                        closing = u
                        break
                    if w not in parent:
                        parent[w] = u
                        following.append(w)
                if closing is not None:
                    break
            frontier = following
        if closing is not None:
            path = [closing]
            while path[-1] != start:
                path.append(parent[path[-1]])
            path.reverse()
            if best is None or len(path) < len(best):
                best = path
                if len(best) == 2:
                    break
    if best is None:  # pragma: no cover - callers only pass cyclic members
        raise ValueError("no cycle among the given members")
    return best


def _describe_capabilities(capabilities: Tuple[str, ...], limit: int = 3) -> str:
    shown = ", ".join(capabilities[:limit])
    if len(capabilities) > limit:
        shown += f" and {len(capabilities) - limit} more"
    return shown


class DepGraph:
    """Components and the edges between them.

    ``names`` are the components in input order; ``edges[dependent][dependency]`` is the
    :class:`Edge` (every component has an entry, possibly empty; inner mappings are in
    input order of the dependency).
    """

    def __init__(self, names: Sequence[str], edges: Mapping[str, Mapping[str, Edge]],
                 unmet: Sequence[Unmet] = ()) -> None:
        self.names: Tuple[str, ...] = tuple(names)
        #: Versioned requirements the set names but cannot meet (see :class:`Unmet`).
        self.unmet: Tuple[Unmet, ...] = tuple(unmet)
        self._order: Dict[str, int] = {n: i for i, n in enumerate(self.names)}
        if len(self._order) != len(self.names):
            raise ValueError("component names must be unique")
        self.edges: Dict[str, Dict[str, Edge]] = {n: dict(edges.get(n, {})) for n in self.names}
        for dependent, out in self.edges.items():
            for dependency in out:
                if dependency not in self._order:
                    raise ValueError(f"edge from {dependent!r} to unknown component {dependency!r}")
        self._reverse: Optional[Dict[str, Tuple[str, ...]]] = None

    def __len__(self) -> int:
        return len(self.names)

    def __contains__(self, name: object) -> bool:
        return name in self._order

    @property
    def edge_count(self) -> int:
        """How many edges the graph has."""
        return sum(len(out) for out in self.edges.values())

    def iter_edges(self) -> Iterator[Edge]:
        """Every edge, by dependent then dependency in input order."""
        for out in self.edges.values():
            yield from out.values()

    def dependencies(self, name: str) -> Tuple[str, ...]:
        """The components ``name`` needs, in input order (``KeyError`` for an unknown name)."""
        return tuple(self.edges[name])

    def dependents(self, name: str) -> Tuple[str, ...]:
        """The components that need ``name``, in input order (``KeyError`` for an unknown name)."""
        if name not in self._order:
            raise KeyError(name)
        if self._reverse is None:
            reverse: Dict[str, List[str]] = {n: [] for n in self.names}
            for dependent in self.names:  # input order, so each list ends up in input order
                for dependency in self.edges[dependent]:
                    reverse[dependency].append(dependent)
            self._reverse = {n: tuple(v) for n, v in reverse.items()}
        return self._reverse[name]

    def sccs(self) -> Tuple[Tuple[str, ...], ...]:
        """The strongly connected components that are cycles (size > 1, or a self-loop).

        Members are in input order; the components are listed dependencies first (a component
        comes after every component it needs).
        """
        edges = self.edges
        order = self._order
        out: List[Tuple[str, ...]] = []
        for component in strongly_connected(self.names, edges.__getitem__):
            if len(component) > 1 or component[0] in edges[component[0]]:
                out.append(tuple(sorted(component, key=order.__getitem__)))
        return tuple(out)

    def _cycle_message(self, cycle: List[str]) -> str:
        # cycle[i] needs cycle[i+1]; print in build order: "X -> Y (needs c)" = Y needs c from X.
        start = cycle[0]
        parts = [start]
        current = start
        for following in reversed(cycle):
            edge = self.edges[following][current]
            parts.append(f"{following} (needs {_describe_capabilities(edge.capabilities)})")
            current = following
        return "cycle the base cannot break: " + " -> ".join(parts)

    def to_dag(self, restore_soft: bool = False) -> DagResult:
        """Break every cycle by dropping its soft edges; raise :class:`PlanError` if one stays.

        Inside each strongly connected component the soft edges are dropped (the dependent is
        built against the base first) and the SCCs are recomputed on what remains. A cycle
        of hard edges is reported with a shortest cycle of each such component, in build order:
        ``"cycle the base cannot break: a -> b (needs liba-devel) -> c (needs x) -> a (needs y)"``
        where ``X -> Y (needs c)`` means Y needs capability c, provided by X.

        With ``restore_soft``, dropped soft edges that agree with a topological order of the
        remaining (hard) edges of their component are put back, so ``broken`` is only a feedback
        set: fewer components are built against the base instead of the set.
        """
        with gc_paused():
            return self._to_dag(restore_soft)

    def _to_dag(self, restore_soft: bool) -> DagResult:
        edges = self.edges
        order = self._order
        kept: Dict[str, List[str]] = {n: list(out) for n, out in edges.items()}
        broken: List[Edge] = []
        unbreakable: List[str] = []
        for component in strongly_connected(self.names, edges.__getitem__):
            if len(component) == 1 and component[0] not in edges[component[0]]:
                continue
            members = set(component)
            ordered = sorted(component, key=order.__getitem__)
            hard: Dict[str, List[str]] = {}
            dropped: List[Edge] = []
            for n in ordered:
                mine: List[str] = []
                others: List[str] = []
                for dependency, edge in edges[n].items():
                    if dependency not in members:
                        others.append(dependency)
                    elif edge.soft:
                        dropped.append(edge)
                    else:
                        mine.append(dependency)
                hard[n] = mine
                kept[n] = others + mine
            remaining = [
                c
                for c in strongly_connected(ordered, hard.__getitem__)
                if len(c) > 1 or c[0] in hard[c[0]]
            ]
            if remaining:
                for c in remaining:
                    c_members = set(c)
                    c_ordered = sorted(c, key=order.__getitem__)
                    cycle = _shortest_cycle(
                        c_ordered, lambda n: [d for d in hard[n] if d in c_members]
                    )
                    unbreakable.append(self._cycle_message(cycle))
                continue
            if restore_soft and dropped:
                position = _soft_friendly_order(ordered, hard, dropped)
                still_dropped: List[Edge] = []
                for edge in dropped:
                    if position[edge.dependency] < position[edge.dependent]:
                        kept[edge.dependent].append(edge.dependency)
                    else:
                        still_dropped.append(edge)
                dropped = still_dropped
            broken.extend(dropped)
        if unbreakable:
            raise PlanError("\n".join(unbreakable))
        dependencies = {
            n: tuple(sorted(set(kept[n]), key=order.__getitem__)) for n in self.names
        }
        broken.sort(key=lambda e: (order[e.dependent], order[e.dependency]))
        return DagResult(MappingProxyType(dependencies), tuple(broken))


def _soft_friendly_order(
    members: List[str], hard: Dict[str, List[str]], soft: List[Edge]
) -> Dict[str, int]:
    """A topological order of ``hard`` (dependencies first) that places, greedily, first the
    member with the fewest soft dependencies still unplaced, so many soft edges point forward."""
    waiting_hard = {n: len(hard[n]) for n in members}
    hard_dependents: Dict[str, List[str]] = {n: [] for n in members}
    for n in members:
        for d in hard[n]:
            hard_dependents[d].append(n)
    unplaced_soft = {n: 0 for n in members}
    soft_dependents: Dict[str, List[str]] = {n: [] for n in members}
    for edge in soft:
        unplaced_soft[edge.dependent] += 1
        soft_dependents[edge.dependency].append(edge.dependent)
    rank = {n: i for i, n in enumerate(members)}
    heap = [(unplaced_soft[n], rank[n], n) for n in members if waiting_hard[n] == 0]
    heapq.heapify(heap)
    position: Dict[str, int] = {}
    while heap:
        score, _, n = heapq.heappop(heap)
        if n in position or score != unplaced_soft[n]:
            continue  # placed already, or a stale entry
        position[n] = len(position)
        for m in soft_dependents[n]:
            if m not in position:
                unplaced_soft[m] -= 1
                if waiting_hard[m] == 0:
                    heapq.heappush(heap, (unplaced_soft[m], rank[m], m))
        for m in hard_dependents[n]:
            waiting_hard[m] -= 1
            if waiting_hard[m] == 0:
                heapq.heappush(heap, (unplaced_soft[m], rank[m], m))
    return position


BaseLike = Union[BaseIndex, Callable[[str], bool]]


def _base_leaf(base: BaseLike) -> Callable[[SimpleDep], bool]:
    """``base`` as a test of one simple requirement: an index's ``satisfies``, or a name test."""
    satisfies = getattr(base, "satisfies", None)
    if satisfies is not None:
        return satisfies  # type: ignore[no-any-return]
    by_name: Callable[[str], bool] = base  # type: ignore[assignment]
    return lambda leaf: bool(by_name(leaf.name))


def build_graph(facts: Iterable[ComponentFacts], base_provides: BaseLike = _no_base) -> DepGraph:
    """Build the graph of a set: B -> A when a BuildRequires of B is provided by A.

    Versions are compared by rpm's own rules: ``foo >= 2.11`` is provided by ``foo = 2.11.0``,
    not by ``foo = 2.10.2``; a requirement the set names only in versions that do not meet it
    is recorded in :attr:`DepGraph.unmet`. ``base_provides`` says what the base distribution
    provides (a :class:`BaseIndex`, or a test of capability names); it decides which edges are
    soft. A component's own provides never make an edge to itself. Two components with the
    same name are a :class:`PlanError`.
    """
    with gc_paused():
        return _build_graph(list(facts), _base_leaf(base_provides))


def _build_graph(facts: List[ComponentFacts], base_leaf: Callable[[SimpleDep], bool]) -> DepGraph:
    order: Dict[str, int] = {}
    for i, f in enumerate(facts):
        if f.name in order:
            raise PlanError(f"component {f.name!r} appears twice in the set")
        order[f.name] = i

    providers = ProviderIndex()
    for f in facts:
        providers.add(f.name, f.provides, f.provide_sources)

    base_cache: Dict[str, bool] = {}

    def base_satisfies(dep: str) -> bool:
        hit = base_cache.get(dep)
        if hit is None:
            node = parse_dependency(dep)
            hit = base_cache[dep] = node is not None and satisfied(node, base_leaf)
        return hit

    edges: Dict[str, Dict[str, Edge]] = {}
    unmet: List[Unmet] = []
    # What each requirement string meets, asked once for all the components that have it (Fedora's
    # 170,000 BuildRequires are 21,000 strings): per leaf, the offers that meet it, each with the link
    # it makes for a static requirement, and all offers of its name, every component's (each component
    # leaves out its own). Links of generated requirements (labelled otherwise) are made when met.
    Met = List[Tuple[str, Capability, str, Link]]  # (component, offer, source, link)
    meets: Dict[str, Tuple[Optional[Dependency], List[Tuple[str, Met, List[Offer]]]]] = {}
    made: Dict[Tuple[str, int, str], Link] = {}
    for f in facts:
        b = f.name
        links_of: Dict[str, List[Link]] = {}
        caps_of: Dict[str, List[str]] = {}
        soft_of: Dict[str, bool] = {}
        for dep in f.buildrequires:
            known = meets.get(dep)
            if known is None:
                parsed = parse_dependency(dep)
                per_leaf: List[Tuple[str, Met, List[Offer]]] = []
                for leaf in (leaves(parsed) if parsed is not None else ()):
                    meeting, offered = providers.meeting(leaf)
                    per_leaf.append((leaf.name, [(a, offer, source, Link(dep, str(offer), source, False))
                                                 for a, offer, source in meeting], offered))
                known = meets[dep] = (parsed, per_leaf)
            node = known[0]
            if node is None:
                continue
            soft: Optional[bool] = None
            dynamic = dep in f.dynamic
            for leaf_name, met_all, offered_all in known[1]:
                met = False
                for a, offer, source, link in met_all:
                    if a == b:
                        continue
                    met = True
                    if soft is None:
                        soft = base_satisfies(dep)
                    if dynamic:
                        label = source if source in PREDICTED else "generated"
                        known_link = made.get((dep, id(offer), label))
                        if known_link is None:
                            known_link = made[(dep, id(offer), label)] = Link(dep, str(offer), label, True)
                        link = known_link
                    if a not in caps_of:
                        caps_of[a], links_of[a], soft_of[a] = [leaf_name], [link], soft
                        continue
                    if leaf_name not in caps_of[a]:
                        caps_of[a].append(leaf_name)
                    if link not in links_of[a]:
                        links_of[a].append(link)
                    if not soft:
                        soft_of[a] = False
                if not met and isinstance(node, SimpleDep):
                    offered = [o for o in offered_all if o[0] != b]
                    if offered:
                        unmet.append(Unmet(b, dep, tuple((a, str(o), s) for a, o, s in offered), base_satisfies(dep)))
        out: Dict[str, Edge] = {}
        for a in sorted(caps_of, key=order.__getitem__):
            out[a] = Edge(b, a, tuple(caps_of[a]), soft_of[a], tuple(links_of[a]))
        edges[b] = out
    return DepGraph([f.name for f in facts], edges, unmet)
