"""Release-series branches: naming them, checking upstream has the series, asking a forge, following.

A release-series branch follows an upstream release series (``release-3.11`` for
Python 3.11.x), not a Fedora release (``f44``, ``rawhide``). Before anything is sent:

1. the package name and the series are checked as values (no option or shell
   characters reach git or a URL), and the branch name against the convention
   (``policy.branch_template``, default ``release-{series}``); Fedora's own branch
   names are refused with a hint;
2. the forge is asked whether the package exists and already has the branch (then
   that is reported, and nothing is sent);
3. upstream must really have the series: its tags and branches (``git ls-remote`` of
   ``--upstream`` or of the ``URL:``/``Source0:`` of the package's spec) must name a
   release of it (``v3.11.9``, ``3.11``, ``releases/v3.11.0``...); if not, the error says
   what was looked for and which series upstream has;
4. an open request for the same branch is reported, not duplicated.

:func:`follow` polls until the branch exists, the ticket is closed without it, or
the time is up.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from . import gitops, values
from .errors import BranchNotCreated, InputError, SourceError
from .forgeconfig import SERIES, PolicySettings
from .forges import DRY_RUN, EXISTS, MISSING, PENDING, BranchRequest, ForgeBackend, RequestResult, Ticket
from .policy.rules import FEDORA_BRANCH

_SERIES = re.compile(SERIES + r"\Z")
_VERSION = re.compile(r"(?:^|(?<=[-_/vV]))[0-9]+(?:\.[0-9]+)*")  # v3.11.9, 3.11, release-3.11, releases/v0.20
_SPEC_TAG = re.compile(r"^(URL|Source0?)\s*:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_SPEC_DEFINE = re.compile(r"^%(?:global|define)\s+(\w+)\s+(.+?)\s*$", re.MULTILINE)
_HOSTED = re.compile(r"(https?://(?:github\.com|gitlab\.com|codeberg\.org|bitbucket\.org|git\.sr\.ht)/[^/\s]+/[^/\s#?]+)")


@dataclass(frozen=True)
class SeriesConvention:
    """How a release-series branch is named: ``template`` with ``{series}`` (``release-{series}``)."""

    template: str = "release-{series}"

    @classmethod
    def from_policy(cls, policy: PolicySettings) -> "SeriesConvention":
        return cls(policy.branch_template)

    @property
    def pattern(self) -> str:
        return PolicySettings(self.template).series_pattern

    def branch(self, series: str) -> str:
        return self.template.replace("{series}", series)

    def series(self, branch: str) -> Optional[str]:
        match = re.match(f"(?:{self.pattern})\\Z", branch)
        if not match:
            return None
        prefix, _, suffix = self.template.partition("{series}")
        return branch[len(prefix):len(branch) - len(suffix)]

    def parse(self, value: str) -> Tuple[str, str]:
        """``release-3.11`` (or the bare ``3.11``) -> (branch, series); InputError saying why not."""
        values.check_ref(value, "series")
        if _SERIES.match(value):
            return self.branch(value), value
        series = self.series(value)
        if series is not None:
            return value, series
        example = self.branch("3.11")
        if FEDORA_BRANCH.match(value):
            raise InputError(f"{value!r} is one of Fedora's own branch names (like f44, rawhide, main), not a release "
                             f"series: release-series branches follow upstream releases and are named like {example!r}")
        raise InputError(f"{value!r} is not a release-series branch name: expected {self.template!r} with an "
                         f"upstream series such as 3.11 (e.g. {example!r})")


# -- upstream series ---------------------------------------------------------------


def _version_key(text: str) -> Tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


def ref_versions(ref: str) -> List[str]:
    """The version numbers in a tag or branch name (``v3.11.9`` -> ``3.11.9``)."""
    short = ref.split("/", 2)[2] if ref.startswith(("refs/heads/", "refs/tags/")) else ref
    return _VERSION.findall(short)


def series_refs(refs: Iterable[str], series: str) -> List[str]:
    """Tags and branches naming a release of ``series``: a version equal to it or below it (3.11, 3.11.9)."""
    found = []
    for ref in refs:
        if not ref.startswith(("refs/tags/", "refs/heads/")):
            continue
        if any(v == series or v.startswith(series + ".") for v in ref_versions(ref)):
            found.append(ref)
    return sorted(found)


def known_series(refs: Iterable[str], depth: int) -> List[str]:
    """The series (versions cut to ``depth`` parts) that upstream's tags and branches name, newest first."""
    seen = set()
    for ref in refs:
        if ref.startswith(("refs/tags/", "refs/heads/")):
            for version in ref_versions(ref):
                parts = version.split(".")
                if len(parts) >= depth:
                    seen.add(".".join(parts[:depth]))
    return sorted(seen, key=_version_key, reverse=True)


@dataclass(frozen=True)
class UpstreamSeries:
    """Proof that upstream has a series: the repository and the refs naming releases of it."""

    url: str
    series: str
    refs: Tuple[str, ...]


def check_upstream(url: str, series: str, refs: Optional[Mapping[str, str]] = None) -> UpstreamSeries:
    """Refuse a series upstream has no release of, saying what was looked for and what was found."""
    values.check_url(url, "upstream URL")
    if refs is None:
        try:
            refs = gitops.ls_remote(url)
        except SourceError as exc:
            raise SourceError(f"cannot list the upstream repository {url}: {exc.message}") from None
    matches = series_refs(refs, series)
    if matches:
        return UpstreamSeries(url, series, tuple(matches))
    have = known_series(refs, len(series.split(".")))
    shown = ", ".join(have[:12]) + (" …" if len(have) > 12 else "") if have else "none"
    raise InputError(f"upstream {url} has no release of series {series}: looked for tags or branches naming "
                     f"version {series} or {series}.* (like v{series}.0 or release-{series}); found series: {shown}")


def spec_upstream_urls(spec: str, name: str) -> List[str]:
    """Candidate git URLs of upstream from a spec's ``URL:`` and ``Source0:``, most likely first."""
    macros = {"name": name}
    for key, value in _SPEC_DEFINE.findall(spec):
        macros.setdefault(key, value)

    def expand(text: str) -> str:
        for _ in range(5):
            text = re.sub(r"%\{\??(\w+)\}", lambda m: macros.get(m.group(1), m.group(0)), text)
        return text

    tags = [(tag.lower(), expand(value)) for tag, value in _SPEC_TAG.findall(spec)]
    candidates: List[str] = []
    for _, value in sorted(tags, key=lambda t: t[0] != "url"):
        hosted = _HOSTED.match(value)
        if hosted:
            base = hosted.group(1)
            candidates.append(base if base.endswith(".git") else base + ".git")
    for tag, value in tags:
        if tag == "url" and "%" not in value:
            candidates.append(value)
    unique: List[str] = []
    for url in candidates:
        try:
            values.check_url(url, "upstream URL")
        except InputError:
            continue
        if url not in unique:
            unique.append(url)
    return unique


def upstream_of(repo_url: str, package: str, refs: Optional[Mapping[str, str]] = None) -> Tuple[str, Mapping[str, str]]:
    """Upstream's git URL and refs, found from the spec on the dist-git repository's default branch."""
    values.check_url(repo_url, "dist-git URL")
    refs = gitops.ls_remote(repo_url) if refs is None else refs
    head = refs.get("HEAD") or refs.get("refs/heads/rawhide") or refs.get("refs/heads/main")
    if head is None:
        raise InputError(f"{repo_url} has no default branch to read {package}.spec from; give --upstream URL")
    with tempfile.TemporaryDirectory(prefix="stream-build-spec-") as tmp:
        git_dir = gitops.fetch_commit(tmp, repo_url, head)
        text = gitops.file_at(git_dir, head, f"{package}.spec")
    if text is None:
        raise InputError(f"{repo_url} has no {package}.spec on its default branch; give --upstream URL")
    candidates = spec_upstream_urls(text.decode("utf-8", "replace"), package)
    tried = []
    for url in candidates:
        try:
            return url, gitops.ls_remote(url)
        except SourceError as exc:
            tried.append(f"{url} ({exc.message[-120:]})")
    looked = "; ".join(tried) if tried else "its URL: and Source0: name no git repository"
    raise InputError(f"cannot find the upstream git repository of {package} from its spec ({looked}); "
                     "give --upstream URL")


# -- requests ----------------------------------------------------------------------


def _require_token(forge: ForgeBackend) -> None:
    if forge.needs_token() and not forge.settings.token_value():
        raise InputError(f"no API token for forge {forge.settings.name!r}: set {forge.settings.token_hint()} "
                         "(tokens are never taken from the command line)")


def request_branch(
    forge: ForgeBackend,
    package: str,
    series: str,
    convention: SeriesConvention = SeriesConvention(),
    upstream: Optional[str] = None,
    start_point: Optional[str] = None,
    dry_run: bool = False,
) -> RequestResult:
    """Ask ``forge`` for ``package``'s release-series branch, doing the checks of the module docstring."""
    values.check_name(package)
    branch, number = convention.parse(series)
    if start_point is not None:
        values.check_ref(start_point, "start point")
    if upstream is not None:
        values.check_url(upstream, "upstream URL")
    if not dry_run:
        _require_token(forge)
    existing = forge.branches(package)
    if branch in existing:
        commit = existing[branch]
        at = f" at {commit[:12]}" if commit else ""
        return RequestResult(EXISTS, package, branch, forge.settings.name,
                             f"{package} already has branch {branch}{at}: nothing to request", commit=commit)
    if upstream is None:
        upstream, refs = upstream_of(forge.repo_url(package), package)
        check_upstream(upstream, number, refs)
    else:
        check_upstream(upstream, number)
    request = BranchRequest(package, branch, forge.settings.namespace, start_point or forge.settings.start_point)
    ticket = forge.find_ticket(request)
    if ticket is not None:
        return RequestResult(PENDING, package, branch, forge.settings.name,
                             f"an open request for {branch} of {package} exists: {ticket.url}", url=ticket.url)
    if dry_run:
        return RequestResult(DRY_RUN, package, branch, forge.settings.name,
                             f"would request {branch} of {package} (dry run: nothing sent)",
                             request=forge.prepare(request))
    return forge.submit(request)


def branch_status(forge: ForgeBackend, package: str, series: str,
                  convention: SeriesConvention = SeriesConvention()) -> Tuple[RequestResult, Optional[Ticket]]:
    """Where the branch stands now: exists, pending (with its ticket) or missing."""
    values.check_name(package)
    branch, _ = convention.parse(series)
    existing = forge.branches(package)
    if branch in existing:
        commit = existing[branch]
        return RequestResult(EXISTS, package, branch, forge.settings.name, f"{package} has branch {branch}",
                             commit=commit), None
    ticket = forge.find_ticket(BranchRequest(package, branch, forge.settings.namespace))
    if ticket is not None:
        return RequestResult(PENDING, package, branch, forge.settings.name,
                             f"{branch} of {package} is requested: {ticket.url}", url=ticket.url), ticket
    return RequestResult(MISSING, package, branch, forge.settings.name,
                         f"{package} has no branch {branch} and no open request for it"), None


def follow(
    forge: ForgeBackend,
    package: str,
    series: str,
    convention: SeriesConvention = SeriesConvention(),
    interval: float = 30.0,
    timeout: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    on_poll: Optional[Callable[[RequestResult], None]] = None,
) -> RequestResult:
    """Poll until the branch exists; raise :class:`BranchNotCreated` if its ticket closes or time runs out."""
    deadline = clock() + timeout
    last: Optional[Ticket] = None
    while True:
        result, ticket = branch_status(forge, package, series, convention)
        if on_poll is not None:
            on_poll(result)
        if result.state == EXISTS:
            return result
        if result.state == MISSING:
            if last is None:
                raise BranchNotCreated(result.message + " (request it with 'stream-build branch request')")
            now = forge.ticket(last)
            if now.open:
                raise BranchNotCreated(f"the request {last.url} no longer asks for {result.branch} of {package}")
            how = f" as {now.close_status!r}" if now.close_status else ""
            raise BranchNotCreated(f"the request {last.url} was closed{how} without creating "
                                   f"{result.branch} of {package}")
        last = ticket
        if clock() >= deadline:
            raise BranchNotCreated(f"{result.branch} of {package} still does not exist after {timeout:g} s; "
                                   f"the request is open: {result.url}")
        sleep(max(0.0, min(interval, deadline - clock())))


def describe_branches(names: Sequence[str], convention: SeriesConvention) -> List[Dict[str, object]]:
    """Branches with whether each is a release series (and which), release series first, newest first."""
    rows: List[Dict[str, object]] = [{"branch": n, "series": convention.series(n)} for n in names]
    series_rows = sorted((r for r in rows if r["series"]), key=lambda r: _version_key(str(r["series"])), reverse=True)
    return series_rows + sorted((r for r in rows if not r["series"]), key=lambda r: str(r["branch"]))

