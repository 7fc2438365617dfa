"""Stream policy checks: what the rules are told about a stream set, and running them.

:func:`policy_input` builds a :class:`~streambuild.policy.PolicyInput` from a stream:

* the locked commits, and where each was resolved from;
* the binary package names of each component, from the analysis of its spec;
* which branches contain each commit: every branch of the component's repository is
  fetched (``--prune``, so deleted and force-pushed branches are gone) into its mirror
  and asked ``git branch --contains``; a commit no branch contains is unreproducible;
* the base's binary package names when the manifest lists ``base_repos``;
* the submitter and the commit-rights source of the config (:mod:`streambuild.policy.acl`);
* the approved macros and the release-series convention of the config.

:func:`run_check` is ``stream-build check``: every finding, verdicts as the rules give
them. :func:`preflight` is what ``build`` and ``run`` do first: the same rules, except
that denials of the config's ``policy.advisory`` rules become warnings (by default the
release-series naming rule, which DESIGN.md enforces where branches are requested and
in the Koji hub, not in local builds of scratch branches); any remaining denial stops
the build with :class:`~streambuild.errors.PolicyDenied` before anything is built.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import (
    TYPE_CHECKING,
    Dict,
    FrozenSet,
    List,
    Mapping,
    Optional,
    Sequence,
    Tuple,
)

from .. import journal as journal_mod
from ..analyse import AnalysisCache, analyse_all
from ..baserepo import package_names
from ..errors import PolicyDenied
from ..forgeconfig import Config, PolicySettings
from ..lock import Lock, reachability
from . import (
    DENY,
    WARN,
    CommitRights,
    Finding,
    PolicyComponent,
    PolicyInput,
    acl,
    denials,
    evaluate,
)

if TYPE_CHECKING:
    from ..stream import Planned, Stream


@dataclass(frozen=True)
class CheckOptions:
    """Who submits, how their commit rights are looked up, and the policy settings."""

    user: Optional[str] = None
    commit_rights: Optional[CommitRights] = None
    policy: PolicySettings = PolicySettings()

    @classmethod
    def from_config(cls, config: Config, plugins: object, user: Optional[str] = None,
                    acl_file: Optional[str] = None) -> "CheckOptions":
        return cls(user or config.user, acl.from_config(config, plugins, acl_file), config.policy)


# -- facts -------------------------------------------------------------------------


def base_packages(urls: Sequence[str]) -> Optional[FrozenSet[str]]:
    """The binary package names of the base's repositories; None when none are listed."""
    if not urls:
        return None
    return frozenset(package_names(urls))


def analysed_packages(stream: "Stream", lock: Lock) -> Dict[str, Tuple[str, ...]]:
    """Binary package names per component, from the analysis of each spec at its locked commit."""
    sources = stream.prepare(lock)
    jobs = stream.spec_jobs(sources)
    analyses = analyse_all(jobs, AnalysisCache(stream.workdir.path("analysis")))
    return {name: a.package_names for name, a in analyses.items()}


def policy_input(stream: "Stream", lock: Lock, packages: Mapping[str, Tuple[str, ...]], options: CheckOptions,
                 branches: Optional[Mapping[str, Tuple[str, ...]]] = None) -> PolicyInput:
    """Everything the rules need to know about the stream set (see the module docstring); ``branches``:
    those containing each locked commit, when already known (:func:`streambuild.lock.reachability`)."""
    if branches is None:
        branches = reachability(stream.workdir.git_cache, lock)
    manifest = stream.manifest
    components = []
    for comp in manifest.components:
        locked = lock.component(comp.name)
        components.append(PolicyComponent(
            name=comp.name, source_type=comp.source_type, url=locked.url, ref=locked.ref, commit=locked.commit,
            resolved=locked.resolved, buildonly=comp.buildonly, replaces=comp.replaces, macros=comp.macros,
            packages=tuple(packages.get(comp.name, ())), branches=branches[comp.name],
        ))
    return PolicyInput(
        stream=manifest.name,
        base=manifest.base.name,
        components=tuple(components),
        user=options.user,
        macros=manifest.macros,
        install_packages=manifest.install.packages if manifest.install else (),
        base_packages=base_packages(manifest.base_repos),
        commit_rights=options.commit_rights,
        series_pattern=options.policy.series_pattern,
        approved_macros=options.policy.approved_macros,
    )


# -- running -----------------------------------------------------------------------


def last_audit(journal_path: str, lock: Lock) -> Optional[Tuple[Tuple[str, Tuple[str, ...]], ...]]:
    """The series audit of the last finished build of ``lock`` in a work directory (None: there is none)."""
    last = journal_mod.last_run(journal_path)
    if last is None or last.interrupted or last.start.get("lock") != lock.to_json() or not last.audits:
        return None
    return tuple((name, tuple(record.get("findings", ()))) for name, record in last.audits.items())


def run_check(stream: "Stream", options: CheckOptions, mode: str = "auto") -> List[Finding]:
    """``stream-build check``: lock, analyse, and evaluate every registered rule (no plan needed)."""
    lock = stream.lock(mode)
    data = replace(policy_input(stream, lock, analysed_packages(stream, lock), options),
                   audit=last_audit(stream.workdir.journal, lock))
    return evaluate(data, stream.plugins.registry.policy_rules)


def advisory(findings: Sequence[Finding], rules: FrozenSet[str]) -> List[Finding]:
    """Denials of ``rules`` turned into warnings that say so."""
    return [
        replace(f, verdict=WARN, reason=f"{f.reason} (advisory before local builds; denied by 'stream-build check' "
                                         "and where branches are requested and Koji builds are accepted)")
        if f.verdict == DENY and f.rule in rules else f
        for f in findings
    ]


def denial_message(findings: Sequence[Finding]) -> str:
    denied = denials(findings)
    lines = [f"{f.component}: {f.rule}: {f.reason}" + (f" (hint: {f.hint})" if f.hint else "") for f in denied]
    return (f"the stream policy denies this set ({len(denied)} finding{'s' if len(denied) != 1 else ''}): "
            + "; ".join(lines))


def preflight(stream: "Stream", planned: "Planned", options: Optional[CheckOptions] = None,
              config: Optional[Config] = None) -> List[Finding]:
    """The checks ``build`` and ``run`` do first; raise PolicyDenied (exit 3) on any enforced denial.

    The findings are reported as a ``policy`` event to the plugins (``--json`` shows them).
    """
    if options is None:
        from .. import forgeconfig

        options = CheckOptions.from_config(config or forgeconfig.load(), stream.plugins)
    packages = {c.name: c.analysis.package_names for c in planned.plan.components}
    findings = evaluate(policy_input(stream, planned.lock, packages, options, planned.branches), stream.plugins.registry.policy_rules)
    findings = advisory(findings, options.policy.advisory)
    stream.plugins.hook.streambuild_event(event={
        "event": "policy", "time": time.time(), "findings": [f.to_json() for f in findings],
        "denied": len(denials(findings)), "warnings": sum(f.verdict == WARN for f in findings),
    })
    if denials(findings):
        raise PolicyDenied(denial_message(findings) + "; see 'stream-build check', or build with --no-check")
    return findings
