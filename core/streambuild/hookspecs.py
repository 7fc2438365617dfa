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
    epoch). The kinds:

    - the run: ``run-start``, ``run-end`` (``outcome``), ``backend`` (which and why),
      ``phase`` (fetch, analyse, build, publish, install starting or ending), ``fetched``,
      ``locked`` (with ``changes``), ``plan`` (the plan as ``plan --json`` prints it),
      ``policy`` (the preflight's findings), ``warning`` and ``note`` (a ``message`` every
      front-end shows), ``published``, ``installed``, ``summary``;
    - a component: ``component`` with ``"component"`` and ``"state"`` (``waiting``,
      ``building``, ``done``, ``cached``, ``failed``, ``skipped``, ``not-started``,
      ``submitted``), ``build-log`` (where its log is while it builds), ``edge-added``
      (``after``: a component it waits for, learned before it started), ``audit`` (the
      series audit of its build);
    - Koji: ``koji``, ``koji-submitted``, ``koji-sidetag``, ``koji-poll`` (hub requests of one
      status poll), ``koji-regenerations``.

    Observers must not raise; they are called from worker threads.
    """
