"""The built-in policy rules (DESIGN.md §5), registered by :mod:`streambuild.builtins` like a plugin's."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Dict, Iterable, List, Mapping, Tuple

from . import ALLOW, DENY, SET, WARN, Finding, PolicyComponent, PolicyInput, Rule

FEDORA_BRANCH = re.compile(r"(f[0-9]+|rawhide|epel[0-9]+(-next)?|el[0-9]+|eln|main|master)\Z")


@dataclass(frozen=True)
class CommitRightsRule:
    name: str = "commit-rights"
    description: str = "the submitter has commit rights on every dist-git component (provenpackager is not enough)"

    def check(self, data: PolicyInput) -> Iterable[Finding]:
        for comp in data.components:
            if comp.source_type != "dist-git":
                continue
            if data.user is None or data.commit_rights is None:
                missing = "no user" if data.user is None else "no ACL source"
                yield Finding(comp.name, self.name, WARN, f"commit rights were not checked ({missing})",
                              "name the submitter (--user, or 'user' in forges.toml) and an ACL source "
                              "(--acl-file, or [acl] in forges.toml)")
                continue
            allowed = data.commit_rights(data.user, comp)
            if allowed is None:
                yield Finding(comp.name, self.name, WARN, f"cannot tell whether {data.user} may commit to {comp.url}")
            elif allowed:
                yield Finding(comp.name, self.name, ALLOW, f"{data.user} has commit rights on {comp.name}")
            else:
                yield Finding(comp.name, self.name, DENY, f"{data.user} has no commit rights on {comp.name}",
                              f"ask the maintainers of {comp.name} for commit access, or to build the stream themselves")


@dataclass(frozen=True)
class ReachableCommitRule:
    name: str = "reachable-commit"
    description: str = "every component is a commit reachable from a branch of its repository"

    def check(self, data: PolicyInput) -> Iterable[Finding]:
        for comp in data.components:
            if comp.branches is None:
                yield Finding(comp.name, self.name, WARN, "reachability of the commit was not checked")
            elif comp.branches:
                yield Finding(comp.name, self.name, ALLOW, f"{comp.commit[:12]} is on {', '.join(comp.branches[:3])}")
            else:
                yield Finding(comp.name, self.name, DENY, f"commit {comp.commit} is on no branch of {comp.url}",
                              "push the commit to a branch (a force-push or a deleted branch makes it unreproducible)")


@dataclass(frozen=True)
class ReleaseSeriesBranchRule:
    name: str = "release-series-branch"
    description: str = "dist-git branches of a stream follow upstream release series (release-X.Y), not Fedora releases"

    def check(self, data: PolicyInput) -> Iterable[Finding]:
        pattern = re.compile(f"(?:{data.series_pattern})\\Z")
        for comp in data.components:
            if comp.source_type != "dist-git":
                continue
            branch = comp.resolved[len("refs/heads/"):] if comp.resolved.startswith("refs/heads/") else None
            if branch is None:
                yield self._not_a_branch(comp, pattern, data.series_pattern)
            elif pattern.match(branch):
                yield Finding(comp.name, self.name, ALLOW, f"{branch} is a release-series branch")
            else:
                kind = "a Fedora release branch" if FEDORA_BRANCH.match(branch) else "not a release-series name"
                yield Finding(comp.name, self.name, DENY, f"branch {branch} is {kind}",
                              f"request a branch matching {data.series_pattern!r} (stream-build branch request)")

    def _not_a_branch(self, comp: PolicyComponent, pattern: "re.Pattern[str]", wanted: str) -> Finding:
        """A tag or commit: the release-series branches that contain the commit decide."""
        if comp.branches is None:
            return Finding(comp.name, self.name, WARN, f"{comp.ref} is not a branch, and the branches containing "
                           "its commit are unknown", "name a release-series branch in the manifest")
        series = [b for b in comp.branches if pattern.match(b)]
        if series:
            return Finding(comp.name, self.name, ALLOW, f"{comp.ref} is on release-series branch {series[0]}")
        return Finding(comp.name, self.name, DENY, f"{comp.ref} is on no release-series branch",
                       f"name a branch matching {wanted!r} in the manifest")


@dataclass(frozen=True)
class BuildonlyRule:
    name: str = "buildonly"
    description: str = "build-only components are flagged buildonly: true and never shipped or installed"

    def check(self, data: PolicyInput) -> Iterable[Finding]:
        owners = {pkg: c.name for c in data.components if c.buildonly for pkg in c.packages + (c.name,)}
        asked = [p for p in data.install_packages if p in owners]
        for pkg in asked:
            yield Finding(owners[pkg], self.name, DENY, f"install names {pkg}, built by build-only component {owners[pkg]}",
                          "remove it from install.packages, or drop buildonly: true")
        for comp in data.components:
            if comp.buildonly and comp.name not in {owners[p] for p in asked}:
                yield Finding(comp.name, self.name, ALLOW, "build-only: kept out of the stream repository")
        if not owners:
            yield Finding(SET, self.name, ALLOW, "no component is build-only")


def shared_binary_names(packages: Mapping[str, Iterable[str]]) -> Dict[str, List[str]]:
    """The binary package names more than one component ships, with those components (in order).

    The rule ``unique-binary-names``, for the rule itself (on analysed names) and for publishing
    (on the RPMs really built).
    """
    owners: Dict[str, List[str]] = {}
    for component, names in packages.items():
        for name in dict.fromkeys(names):
            owners.setdefault(name, []).append(component)
    return {name: components for name, components in owners.items() if len(components) > 1}


@dataclass(frozen=True)
class UniqueBinaryNamesRule:
    name: str = "unique-binary-names"
    description: str = "no two components of a set ship the same binary RPM name"

    def check(self, data: PolicyInput) -> Iterable[Finding]:
        if not any(comp.packages for comp in data.components):
            yield Finding(SET, self.name, WARN, "the binary packages of the set are unknown (not analysed)")
            return
        clashes = shared_binary_names({comp.name: comp.packages for comp in data.components})
        for pkg, names in sorted(clashes.items()):
            for name in names:
                others = ", ".join(n for n in names if n != name)
                yield Finding(name, self.name, DENY, f"binary package {pkg} is also built by {others}",
                              "rename the binary package in one of the specs")
        if not clashes:
            yield Finding(SET, self.name, ALLOW, "every binary package name is built by one component")


@dataclass(frozen=True)
class BaseCollisionRule:
    name: str = "base-collision"
    description: str = "a component shipping a binary RPM named like one of the base's says replaces: true"

    def check(self, data: PolicyInput) -> Iterable[Finding]:
        if data.base_packages is None:
            yield Finding(SET, self.name, WARN, "the base's package list is unknown (no base_repos)",
                          "list the base's repositories under base_repos to check collisions")
            return
        clean = True
        for comp in data.components:
            same = sorted(set(comp.packages) & data.base_packages)
            if not same:
                if comp.replaces:
                    yield Finding(comp.name, self.name, WARN, "declares replaces: true but ships no package the base "
                                  "ships", "drop replaces: true")
                continue
            clean = False
            if comp.replaces:
                yield Finding(comp.name, self.name, ALLOW, f"replaces the base's {', '.join(same)} (declared)")
            else:
                yield Finding(comp.name, self.name, DENY, f"ships {', '.join(same)}, which the base ships too",
                              "declare replaces: true for the component, or rename the binary packages")
        if clean:
            yield Finding(SET, self.name, ALLOW, "no component ships a binary package the base ships")


@dataclass(frozen=True)
class MacrosApprovalRule:
    name: str = "macros-approval"
    description: str = "overriding rpm macros for a set needs approval"

    def check(self, data: PolicyInput) -> Iterable[Finding]:
        wanted = [(SET, name) for name, _ in data.macros]
        wanted += [(c.name, name) for c in data.components for name, _ in c.macros]
        if not wanted:
            yield Finding(SET, self.name, ALLOW, "no rpm macros are overridden")
        for component, name in wanted:
            if name in data.approved_macros:
                yield Finding(component, self.name, ALLOW, f"macro {name} is approved")
            else:
                yield Finding(component, self.name, DENY, f"overriding macro {name} is not approved",
                              "ask the stream policy's admins to approve the macro")


@dataclass(frozen=True)
class SeriesAuditRule:
    name: str = "series-audit"
    description: str = "no component was built against the base for a capability the stream provides"

    def check(self, data: PolicyInput) -> Iterable[Finding]:
        if data.audit is None:
            yield Finding(SET, self.name, ALLOW, "this lock has not been built here: there is no build to audit")
            return
        clean = True
        for component, findings in data.audit:
            for finding in findings:
                clean = False
                yield Finding(component, self.name, DENY, finding,
                              "build it after the component that provides it (a cycle broken there, or an edge "
                              "learned too late: see 'stream-build plan' and the run's status)")
        if clean:
            yield Finding(SET, self.name, ALLOW, "every BuildRequires the stream provides was met by the stream")


BUILTIN_RULES = (
    CommitRightsRule(),
    ReachableCommitRule(),
    ReleaseSeriesBranchRule(),
    BuildonlyRule(),
    UniqueBinaryNamesRule(),
    BaseCollisionRule(),
    MacrosApprovalRule(),
    SeriesAuditRule(),
)


def builtin_rules() -> Tuple[Rule, ...]:
    """The built-in rules, registered by :mod:`streambuild.builtins` (when the rules are first asked for)."""
    return BUILTIN_RULES
