"""Stream policies: Fedora's module-stream rules carried over to release-series stream sets.

Every rule looks at a :class:`PolicyInput` (what is known about a stream set and who
submits it) and returns :class:`Finding` objects, each naming the component, the rule,
the verdict and the reason. The same rules run in ``stream-build check``, in the
preflight of ``build``, and in the Koji hub plugin's policy tests. The built-in rules
(:mod:`streambuild.policy.rules`) are registered by :mod:`streambuild.builtins`, imported when the rules
are first asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import (
    Callable,
    Dict,
    FrozenSet,
    Iterable,
    List,
    Optional,
    Protocol,
    Sequence,
    Tuple,
)

DENY, WARN, ALLOW = "deny", "warn", "allow"
SET = "*"  # the component name of a finding about the whole set

#: The default pattern a release-series branch must match (``release-3.11``, ``release-2.11``).
DEFAULT_SERIES_PATTERN = r"release-[0-9]+(\.[0-9]+)*"


@dataclass(frozen=True)
class Finding:
    component: str
    rule: str
    verdict: str  # deny, warn or allow
    reason: str
    hint: str = ""

    def to_json(self) -> Dict[str, str]:
        return {"component": self.component, "rule": self.rule, "verdict": self.verdict,
                "reason": self.reason, "hint": self.hint}


@dataclass(frozen=True)
class PolicyComponent:
    """What the rules know of one component."""

    name: str
    source_type: str  # dist-git or git
    url: str
    ref: str
    commit: str
    resolved: str = ""  # refs/heads/..., refs/tags/..., or the commit
    buildonly: bool = False
    replaces: bool = False
    macros: Tuple[Tuple[str, str], ...] = ()
    packages: Tuple[str, ...] = ()  # binary package names, when analysed
    branches: Optional[Tuple[str, ...]] = None  # branches containing the commit; None: not checked


#: Answers whether ``user`` may commit to ``component``'s dist-git repo (None: cannot tell).
CommitRights = Callable[[str, PolicyComponent], Optional[bool]]


@dataclass(frozen=True)
class PolicyInput:
    stream: str
    base: str
    components: Tuple[PolicyComponent, ...]
    user: Optional[str] = None
    macros: Tuple[Tuple[str, str], ...] = ()  # set-level macros
    install_packages: Tuple[str, ...] = ()
    base_packages: Optional[FrozenSet[str]] = None  # binary names in the base; None: unknown
    commit_rights: Optional[CommitRights] = None
    series_pattern: str = DEFAULT_SERIES_PATTERN
    approved_macros: FrozenSet[str] = field(default_factory=frozenset)
    #: the series audit of the last finished build of this lock, by component (None: none is known)
    audit: Optional[Tuple[Tuple[str, Tuple[str, ...]], ...]] = None


class Rule(Protocol):
    """A stream policy rule (read-only ``name`` and ``description``: the built-ins are frozen dataclasses)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def check(self, data: PolicyInput) -> Iterable[Finding]:
        """Return findings for ``data`` (at least one per component the rule applies to)."""


def evaluate(data: PolicyInput, rules: Sequence[Rule]) -> List[Finding]:
    """Run every rule; findings in rule order, then component order."""
    findings: List[Finding] = []
    for rule in rules:
        findings.extend(rule.check(data))
    return findings


def denials(findings: Iterable[Finding]) -> List[Finding]:
    return [f for f in findings if f.verdict == DENY]


def summary(findings: Iterable[Finding]) -> str:
    return "; ".join(f"{f.component}: {f.rule}: {f.reason}" for f in denials(findings))
