"""The registry plugins fill: build backends, install targets, policy rules and forge types, by name."""

from __future__ import annotations

from typing import Any, Callable, Dict, List

from .errors import InputError


class Registry:
    """Named choices contributed by plugins through ``streambuild_register``."""

    def __init__(self) -> None:
        self.backends: Dict[str, Callable[..., Any]] = {}
        self.install_targets: Dict[str, Callable[..., Any]] = {}
        self.policy_rules: List[Any] = []
        self.forges: Dict[str, Callable[..., Any]] = {}

    @staticmethod
    def _add(table: Dict[str, Callable[..., Any]], kind: str, name: str, factory: Callable[..., Any]) -> None:
        if name in table:
            raise ValueError(f"{kind} {name!r} is registered twice")
        table[name] = factory

    def add_backend(self, name: str, factory: Callable[..., Any]) -> None:
        self._add(self.backends, "build backend", name, factory)

    def add_install_target(self, name: str, factory: Callable[..., Any]) -> None:
        self._add(self.install_targets, "install target", name, factory)

    def add_policy_rule(self, rule: Any) -> None:
        self.policy_rules.append(rule)

    def add_forge(self, kind: str, factory: Callable[..., Any]) -> None:
        """A forge type for branch requests (see :mod:`streambuild.forges`): ``factory(settings, http)``."""
        self._add(self.forges, "forge type", kind, factory)

    @staticmethod
    def _get(table: Dict[str, Callable[..., Any]], kind: str, name: str) -> Callable[..., Any]:
        try:
            return table[name]
        except KeyError:
            raise InputError(f"unknown {kind} {name!r} (available: {', '.join(sorted(table))})") from None

    def backend(self, name: str) -> Callable[..., Any]:
        return self._get(self.backends, "build backend", name)

    def install_target(self, name: str) -> Callable[..., Any]:
        return self._get(self.install_targets, "install target", name)

    def forge(self, kind: str) -> Callable[..., Any]:
        return self._get(self.forges, "forge type", kind)
