"""Who provides what in a set: Provides by capability name, matched against requirements by rpm's rules.

The planner builds one index over every component's best-known Provides
(:mod:`streambuild.predict`); the executor keeps one up to date while the stream builds,
replacing a component's predictions with its real Provides once it is built.
"""

from __future__ import annotations

from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ._foreign.rpmlib import OPERATORS, Capability, overlaps
from .capabilities import SimpleDep, _split_simple, provide_name

__all__ = ["Offer", "ProviderIndex", "capability"]

#: One provide of one component: (component, the provide, where it is known from).
Offer = Tuple[str, Capability, str]

_CAPABILITY_CACHE: Dict[str, Capability] = {}


def capability(provide: str) -> Capability:
    """A provide string as a :class:`Capability` (``"a = 1"``, ``"a"``; rpm prints blanks around the operator)."""
    hit = _CAPABILITY_CACHE.get(provide)
    if hit is None:
        words = provide.split()
        name = _split_simple(words[0])[0] if words else ""  # provide_name(provide), from the same split
        hit = Capability(name, words[1], words[2]) if len(words) >= 3 and words[1] in OPERATORS else Capability(name)
        if len(_CAPABILITY_CACHE) < 1 << 18:
            _CAPABILITY_CACHE[provide] = hit
    return hit


class ProviderIndex:
    """Capability name -> the offers of every component that provides it."""

    def __init__(self) -> None:
        # provides as written, by capability name; made into offers (capabilities) for a name when it is
        # first asked about: a set has a few hundred thousand provides, and a plan asks about a part of them
        self._written: Dict[str, List[Tuple[str, str, str]]] = {}
        self._by_name: Dict[str, List[Offer]] = {}
        self._names_of: Dict[str, List[str]] = {}

    def add(self, component: str, provides: Sequence[str], sources: Sequence[str] = ()) -> None:
        """Add a component's Provides (``sources`` parallel to them; ``spec`` where shorter)."""
        names = self._names_of.setdefault(component, [])
        written, made, known = self._written, self._by_name, len(sources)
        for index, text in enumerate(provides):
            head = text.split(None, 1)
            name = _split_simple(head[0])[0] if head else ""  # capability(text).name
            if not name:
                continue
            entry = (component, text, sources[index] if index < known else "spec")
            found = written.get(name)
            if found is None:
                written[name] = [entry]
            else:
                found.append(entry)
                if name in made:
                    del made[name]
            names.append(name)

    def replace(self, component: str, provides: Sequence[str], sources: Sequence[str] = ()) -> None:
        """Forget what was known of ``component`` and add what is known now."""
        for name in set(self._names_of.pop(component, ())):
            kept = [o for o in self._written.get(name, ()) if o[0] != component]
            self._by_name.pop(name, None)
            if kept:
                self._written[name] = kept
            else:
                self._written.pop(name, None)
        self.add(component, provides, sources)

    def _named(self, name: str) -> Optional[List[Offer]]:
        found = self._by_name.get(name)
        if found is None:
            written = self._written.get(name)
            if not written:
                return None
            found = self._by_name[name] = [(c, capability(text), source) for c, text, source in written]
        return found

    def offers(self, name: str) -> List[Offer]:
        """Every offer of a capability name (path-like names also through their parents, see below)."""
        return self._named(name) or self._under_prefix(name) or []

    def _under_prefix(self, name: str) -> Optional[List[Offer]]:
        """``golang(a/b/c)`` is met by ``golang(a/b/...)``: only predictions are written that way (a Go
        ``-devel`` package provides every import path under its own, which no spec lists)."""
        open_at = name.find("(")
        if open_at < 0 or not name.endswith(")") or "/" not in name:
            return None
        namespace, parts = name[:open_at], name[open_at + 1:-1].split("/")
        for cut in range(len(parts) - 1, 0, -1):
            found = self._named(f"{namespace}({'/'.join(parts[:cut])}/...)")
            if found:
                return [(c, Capability(name), source) for c, _offer, source in found]
        return None

    def meeting(self, leaf: SimpleDep, exclude: str = "") -> Tuple[List[Offer], List[Offer]]:
        """The offers that meet one simple requirement, and all offers of its name (both without ``exclude``)."""
        offered = [o for o in self.offers(leaf.name) if o[0] != exclude]
        if not offered:
            return [], []
        if not (leaf.operator and leaf.version):
            return offered, offered
        wanted = Capability(leaf.name, leaf.operator, leaf.version)
        return [o for o in offered if overlaps(wanted, o[1])], offered

    @classmethod
    def of(cls, provides: Mapping[str, Tuple[Sequence[str], Sequence[str]]]) -> "ProviderIndex":
        """An index of ``{component: (provides, sources)}``."""
        index = cls()
        for component, (items, sources) in provides.items():
            index.add(component, items, sources)
        return index

    def components(self) -> Iterable[str]:
        return self._names_of.keys()
