"""Hook specifications: the whole plugin surface of stream-build.

Built-in backends and install targets are plugins written exactly like third-party
ones (see :mod:`streambuild.plugins`); third-party plugins arrive through the
``streambuild`` entry point group. Hooks are grouped by the phase that calls them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

import pluggy

if TYPE_CHECKING:
    from .registry import Registry

hookspec = pluggy.HookspecMarker("streambuild")

# ---------------------------------------------------------------------------
# start-up: registering choices
# ---------------------------------------------------------------------------


@hookspec
def streambuild_register(registry: "Registry") -> None:
    """Register build backends, install targets and policy rules.

    Called once when the plugin manager is built. Implementations call
    ``registry.add_backend(name, factory)``, ``registry.add_install_target(name, factory)``,
    ``registry.add_policy_rule(rule)`` or ``registry.add_forge(kind, factory)`` (forge types
    for branch requests); a name registered twice is an error.

    :param registry: the registry of this run's choices.
    """


# ---------------------------------------------------------------------------
# planning
# ---------------------------------------------------------------------------


@hookspec
def streambuild_build_macros(base: Any, component: Any) -> Mapping[str, str]:
    """Return extra rpm macros to define when analysing and building ``component``.

    Results of all implementations are merged, later plugins winning; the base's
    dist macros and the manifest's macros are applied before and after them.

    :param base: the :class:`streambuild.base.Base` the stream is built on.
    :param component: the :class:`streambuild.manifest.Component`.
    """
    raise NotImplementedError  # a specification: plugins implement it


# ---------------------------------------------------------------------------
# building: progress and state
# ---------------------------------------------------------------------------


@hookspec
def streambuild_event(event: Mapping[str, Any]) -> None:
    """Observe one event of a run (a component changing state, a phase starting or ending).

    ``event`` has at least ``"event"`` (its kind) and ``"time"`` (seconds since the
    epoch); component events carry ``"component"`` and ``"state"`` (one of
    ``waiting``, ``building``, ``done``, ``cached``, ``failed``, ``skipped``).
    Observers must not raise; they are called from worker threads.
    """
