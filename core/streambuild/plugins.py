"""Building the plugin manager: a fresh one per run, built-ins first, then entry points."""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
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


def may_declare_plugins(group: str = ENTRY_POINT_GROUP) -> bool:
    """Whether an installed distribution may declare entry points of ``group``, found as importlib.metadata
    finds them, without importing it (7 ms, and most runs have no third-party plugin).

    It is false only when every ``sys.path`` entry is a directory (or missing) whose ``*.dist-info`` and
    ``*.egg-info`` entry points name no such section, and no finder but the standard one finds
    distributions; anything else (a zip, an egg, a file that cannot be read, another finder) is a
    yes, and pluggy's own loader then decides.
    """
    if any(getattr(finder, "find_distributions", None) is not None and finder is not importlib.machinery.PathFinder
           for finder in sys.meta_path):
        return True
    for entry in sys.path:
        directory = entry or "."
        if directory.lower().endswith(".egg"):
            return True
        try:
            names = os.listdir(directory)
        except (FileNotFoundError, PermissionError):
            continue  # importlib.metadata finds nothing there either
        except OSError:
            return True  # a zip file, read inside by importlib.metadata
        for name in names:
            if not name.lower().endswith((".dist-info", ".egg-info")):
                continue
            try:
                with open(os.path.join(directory, name, "entry_points.txt"), encoding="utf-8") as handle:
                    text = handle.read()
            except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
                continue  # importlib.metadata reads no entry points there
            except (OSError, ValueError):
                return True
            if group in text and any(head.startswith("[") and head.strip("[]").strip() == group
                                     for head in map(str.strip, text.splitlines())):  # a section header, spaced or not
                return True
    return False


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
    if load_entry_points and may_declare_plugins():
        manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra:
        manager.register(plugin)
    manager.check_pending()
    registry = Registry()
    manager.hook.streambuild_register(registry=registry)
    return Plugins(manager, registry)
