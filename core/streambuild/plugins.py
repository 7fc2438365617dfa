"""Building the plugin manager: a fresh one per run, built-ins first, then entry points."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Optional

import pluggy

from . import hookspecs
from .registry import Registry

hookimpl = pluggy.HookimplMarker("streambuild")

#: Built-in plugins, registered exactly like third-party ones. :mod:`streambuild.builtins` registers
#: the Koji backend, the container target and the forges without importing them (:func:`lazy`).
BUILTIN_PLUGINS = (
    "streambuild.targets.installroot",
    "streambuild.policy.rules",
    "streambuild.builtins",
)

ENTRY_POINT_GROUP = "streambuild"


def lazy(path: str) -> Callable[..., Any]:
    """A factory for the registry that imports ``"module:attribute"`` when it is first called, so a
    command imports only the plugins it uses (``install`` never imports Koji's or the forges' code)."""

    def factory(*args: Any, **kwargs: Any) -> Any:
        module, _, attribute = path.partition(":")
        return getattr(importlib.import_module(module), attribute)(*args, **kwargs)

    factory.__qualname__ = factory.__name__ = f"lazy({path})"
    return factory


@dataclass
class Plugins:
    """A plugin manager and the registry its plugins filled."""

    manager: pluggy.PluginManager
    registry: Registry

    @property
    def hook(self) -> pluggy.HookRelay:
        return self.manager.hook


def make_plugins(extra: Iterable[object] = (), load_entry_points: bool = True, builtins: Optional[Iterable[str]] = None) -> Plugins:
    """Build a plugin manager for one run.

    :param extra: plugin objects to register after the built-ins (tests use this).
    :param load_entry_points: also load third-party plugins from the ``streambuild`` group.
    """
    manager = pluggy.PluginManager("streambuild")
    manager.add_hookspecs(hookspecs)
    for name in BUILTIN_PLUGINS if builtins is None else builtins:
        manager.register(importlib.import_module(name), name=name)
    if load_entry_points:
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra:
        manager.register(plugin)
    manager.check_pending()
    registry = Registry()
    manager.hook.streambuild_register(registry=registry)
    return Plugins(manager, registry)
