"""The registry plugins fill: build backends, install targets, policy rules and forge types, by name.

Each kind of choice has its own typed table and its own ``add_*`` method (the shape of tox's
``tox_register_tox_env``): the core asks the registry what a name is, never the object it made
(``if target == "container"`` or ``getattr(backend, "build_stream")`` have no place in it).

- **backends** build one component at a time (:class:`streambuild.backends.Backend`: ``local``,
  ``mock``); **stream backends** build a whole set themselves and report every component
  (:class:`streambuild.build.StreamBackend`: ``koji``);
- **install targets** install a request (:class:`streambuild.install.InstallTarget`);
- **policy rules** (:class:`streambuild.policy.Rule`) and **forge types** (branch requests).

A name registered twice, by two plugins or twice by one, is a :class:`PluginConflict` (exit 4):
which of the two would win is not the user's to guess.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Tuple, TypeVar

from .errors import InputError, PluginConflict

if TYPE_CHECKING:
    from .backends import Backend
    from .build import StreamBackend
    from .policy import Rule

__all__ = ["Registry", "BackendFactory", "StreamBackendFactory", "InstallTargetFactory", "ForgeFactory"]

BackendFactory = Callable[..., "Backend"]
StreamBackendFactory = Callable[..., "StreamBackend"]
InstallTargetFactory = Callable[..., Any]  # (ImageSettings) for the container target, () for the others
ForgeFactory = Callable[..., Any]  # (settings, http)

F = TypeVar("F")


class Registry:
    """Named choices contributed by plugins through ``streambuild_register``."""

    def __init__(self) -> None:
        self.backends: Dict[str, BackendFactory] = {}
        self.stream_backends: Dict[str, StreamBackendFactory] = {}
        self.install_targets: Dict[str, InstallTargetFactory] = {}
        self._policy_rules: List["Rule"] = []
        self._pending_rules: List[Callable[[], Iterable["Rule"]]] = []
        self.forges: Dict[str, ForgeFactory] = {}

    def _add(self, table: Dict[str, F], kind: str, name: str, factory: F) -> None:
        if not isinstance(name, str) or not name:
            raise PluginConflict(f"a plugin registered a {kind} without a name")
        taken = name in table or (table is self.backends and name in self.stream_backends) or (
            table is self.stream_backends and name in self.backends)
        if taken:
            raise PluginConflict(f"{kind} {name!r} is registered twice (two installed plugins offer it); "
                                 "uninstall one of them")
        table[name] = factory

    # -- adding -------------------------------------------------------------------------------

    def add_backend(self, name: str, factory: BackendFactory) -> None:
        """A backend that builds one component per call (``factory(**options)`` -> ``Backend``)."""
        self._add(self.backends, "build backend", name, factory)

    def add_stream_backend(self, name: str, factory: StreamBackendFactory) -> None:
        """A backend that builds a whole stream itself (``factory(**options)`` -> ``StreamBackend``)."""
        self._add(self.stream_backends, "build backend", name, factory)

    def add_install_target(self, name: str, factory: InstallTargetFactory) -> None:
        self._add(self.install_targets, "install target", name, factory)

    def add_policy_rule(self, rule: "Rule") -> None:
        if any(existing.name == rule.name for existing in self._policy_rules):
            raise PluginConflict(f"policy rule {rule.name!r} is registered twice (two installed plugins offer it)")
        self._policy_rules.append(rule)

    def add_policy_rules(self, make: Callable[[], Iterable["Rule"]]) -> None:
        """Rules that ``make()`` gives when the rules are first asked for (:attr:`policy_rules`), added then as
        :meth:`add_policy_rule` adds them: a command that checks no policy does not import them."""
        self._pending_rules.append(make)

    def add_forge(self, kind: str, factory: ForgeFactory) -> None:
        """A forge type for branch requests (see :mod:`streambuild.forges`): ``factory(settings, http)``."""
        self._add(self.forges, "forge type", kind, factory)

    # -- asking -------------------------------------------------------------------------------

    @property
    def policy_rules(self) -> List["Rule"]:
        """Every policy rule, in the order they were added."""
        while self._pending_rules:
            for rule in self._pending_rules.pop(0)():
                self.add_policy_rule(rule)
        return self._policy_rules

    @staticmethod
    def _get(table: Dict[str, F], kind: str, name: str, names: Tuple[str, ...] = ()) -> F:
        try:
            return table[name]
        except KeyError:
            shown = ", ".join(sorted(names or tuple(table)))
            raise InputError(f"unknown {kind} {name!r} (available: {shown})") from None

    @property
    def backend_names(self) -> Tuple[str, ...]:
        """Every build backend, per component or whole-stream."""
        return tuple(sorted({*self.backends, *self.stream_backends}))

    def builds_streams(self, name: str) -> bool:
        """Whether backend ``name`` builds whole streams (a :class:`~streambuild.build.StreamBackend`)."""
        if name in self.stream_backends:
            return True
        self._get(self.backends, "build backend", name, self.backend_names)
        return False

    def backend(self, name: str) -> BackendFactory:
        return self._get(self.backends, "build backend", name, self.backend_names)

    def stream_backend(self, name: str) -> StreamBackendFactory:
        return self._get(self.stream_backends, "build backend", name, self.backend_names)

    def install_target(self, name: str) -> InstallTargetFactory:
        return self._get(self.install_targets, "install target", name)

    def forge(self, kind: str) -> ForgeFactory:
        return self._get(self.forges, "forge type", kind)
