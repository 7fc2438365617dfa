"""The ``streamBuild`` task: chained scratch builds of a stream set, in DAG order.

Koji never tags scratch results, so a scratch build cannot see another one. The task
makes the chain real: each scratch ``build`` subtask's RPMs are downloaded, published
into the stream's repository (createrepo_c) in the task's own output directory, which
the stream tag carries as an external repository; the task then waits for a repo of
the stream tag newer than the publication before it starts the dependents. A failure
skips everything that needs it while independent components go on. Build-only
components are published for building (dependents need them) and marked ``buildonly``
in the result, so clients never ship or install them.

The task's result (also uploaded as ``result.json``) lists every component with its
subtask id, NVR, outcome and RPMs (paths in the task output). When anything failed the
task fails, naming the failed components.

The task runs in kojid through ``koji_hub_plugin/streambuild_builder.py``; everything it
asks of Koji goes through :class:`TaskHost` (:class:`streambuild._foreign.koji.TaskHostAdapter`).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from .. import gitops, scheduler, srpm
from ..errors import BuildFailed, EnvironmentProblem, InputError, SourceError, StreamBuildError
from ..sources import prepare
from ..workdir import WorkDir, write_json
from . import hubapi

SRPM_DIR = "srpms"


class StreamAbort(StreamBuildError):
    """The stream cannot be built at all (a bad request, a commit that is not there)."""


class TaskHost(Protocol):
    """What the task needs from Koji (a ``koji.tasks.BaseTaskHandler`` and its host session)."""

    task_id: int

    def build(self, src: str, target: str, opts: Mapping[str, Any], label: str) -> int:
        """Start a ``build`` subtask; return its id."""

    def wait(self, task_ids: Sequence[int]) -> Dict[int, Tuple[bool, Any]]:
        """Wait until one or more of ``task_ids`` finished; return (ok, result or fault text) of each."""

    def children(self, task_id: int) -> List[Mapping[str, Any]]: ...

    def list_output(self, task_id: int) -> List[str]: ...

    def download(self, task_id: int, name: str, dest: str) -> None: ...

    def upload(self, path: str, relpath: str) -> None:
        """Upload a file into this task's output directory under ``relpath`` ('' for the top)."""

    def wait_repo(self, tag: str) -> Mapping[str, Any]:
        """Wait for a repo of ``tag`` generated after now."""

    def log(self, message: str) -> None: ...


@dataclass(frozen=True)
class BuilderOptions:
    """The builder plugin's settings (``[builder]`` of the streambuild config on the builder)."""

    verify_commits: bool = True
    git_cache: str = "/var/cache/kojid/streambuild"
    settings: hubapi.HubSettings = field(default_factory=hubapi.HubSettings)

    @classmethod
    def from_settings(cls, settings: hubapi.HubSettings) -> "BuilderOptions":
        return cls(settings.verify_commits, settings.git_cache, settings)


@dataclass
class ComponentOutcome:
    name: str
    buildonly: bool
    state: str = "waiting"  # waiting, building, done, failed, skipped, not-started
    task_id: Optional[int] = None
    nvr: Optional[str] = None
    rpms: List[str] = field(default_factory=list)  # paths in the task output (repo/<file>)
    message: str = ""

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "buildonly": self.buildonly, "state": self.state, "task_id": self.task_id,
                "nvr": self.nvr, "rpms": list(self.rpms), "message": self.message}


def parse_request(request: Any, settings: hubapi.HubSettings) -> Tuple[hubapi.Submission, str]:
    """The submission and the stream target of a ``streamBuild`` request."""
    if not isinstance(request, Mapping) or not isinstance(request.get("target"), str):
        raise StreamAbort("the streamBuild request must be a struct with lock, opts and target")
    try:
        return hubapi.parse_submission(request.get("lock"), request.get("opts"), settings), request["target"]
    except StreamBuildError as exc:
        raise StreamAbort(f"invalid streamBuild request: {exc}") from None


def verify_commits(submission: hubapi.Submission, git_cache: str) -> None:
    """Every commit exists in its repository and is on one of its branches (legal reproducibility)."""
    problems = []
    for comp in submission.components:
        locked = comp.locked
        try:
            git_dir = gitops.fetch_commit(git_cache, locked.url, locked.commit,
                                          locked.resolved if locked.resolved.startswith("refs/") else None)
            gitops.run_git(["fetch", "--quiet", "--no-write-fetch-head", "--end-of-options", locked.url,
                            "+refs/heads/*:refs/heads/*"], git_dir=git_dir, what=f"fetching {locked.url}")
            branches = gitops.branches_containing(git_dir, locked.commit)
        except SourceError as exc:
            problems.append(f"{comp.name}: reachable-commit: {exc.message}")
            continue
        if not branches:
            problems.append(f"{comp.name}: reachable-commit: commit {locked.commit} is on no branch of {locked.url}")
    if problems:
        raise StreamAbort("; ".join(problems))


def make_srpm(submission: hubapi.Submission, name: str, workdir: WorkDir, out_dir: str) -> str:
    """Build the SRPM of an upstream-git component at its locked commit (Packit's model); return its path."""
    comp = submission.component(name)
    source = prepare(comp.manifest_component(), comp.locked, workdir)
    macros = dict(submission.base.macros())
    macros.update(dict(submission.macros))
    try:
        return srpm.make_srpm(name, source, sorted(macros.items()), out_dir, workdir.tmp(f"srpm-{name}-"))
    except InputError as exc:
        raise StreamAbort(exc.message) from None


def update_repo(directory: str) -> None:
    """(Re)write the repository metadata of ``directory`` with createrepo_c, fixed file names."""
    os.makedirs(directory, exist_ok=True)
    try:
        proc = subprocess.run(["createrepo_c", "--quiet", "--no-database", "--simple-md-filenames", directory],
                              capture_output=True, text=True)
    except FileNotFoundError:
        raise EnvironmentProblem("createrepo_c is not installed on this builder") from None
    if proc.returncode != 0:
        raise EnvironmentProblem(f"createrepo_c failed: {proc.stderr.strip()[-400:]}")


class StreamRun:
    """One ``streamBuild`` task in progress."""

    def __init__(self, submission: hubapi.Submission, target: str, host: TaskHost, workdir: str,
                 options: BuilderOptions) -> None:
        self.submission = submission
        self.target = target
        self.host = host
        self.workdir = workdir
        self.options = options
        self.repo = os.path.join(workdir, hubapi.RESULT_DIR)
        self.outcomes = {c.name: ComponentOutcome(c.name, c.buildonly) for c in submission.components}
        self.uploaded: set = set()
        self.owner: Dict[str, str] = {}  # rpm file name -> component

    def sources(self) -> Dict[str, str]:
        """What each component's scratch build is built from: an SCM URL, or an SRPM this task uploaded."""
        srcs: Dict[str, str] = {}
        work = WorkDir(self.options.git_cache)
        local = os.path.join(self.workdir, SRPM_DIR)
        for comp in self.submission.components:
            if comp.locked.type == "dist-git":
                srcs[comp.name] = hubapi.scm_url(comp.locked.url, comp.locked.commit)
                continue
            try:
                srpm = make_srpm(self.submission, comp.name, work, local)
            except (SourceError, InputError) as exc:
                raise StreamAbort(f"{comp.name}: {exc.message}") from None
            self.host.upload(srpm, SRPM_DIR)
            srcs[comp.name] = f"{hubapi.task_relpath(self.host.task_id)}/{SRPM_DIR}/{os.path.basename(srpm)}"
        return srcs

    def run(self) -> Dict[str, Any]:
        if self.options.verify_commits:
            verify_commits(self.submission, self.options.git_cache)
        srcs = self.sources()
        deps = self.submission.dependencies
        queue = scheduler.ReadyQueue(deps, scheduler.priorities(deps))
        running: Dict[int, str] = {}
        while True:
            while True:
                name = queue.pop()
                if name is None:
                    break
                task_id = self.host.build(srcs[name], self.target, {"scratch": True}, label=name)
                running[task_id] = name
                self.outcomes[name].state, self.outcomes[name].task_id = "building", task_id
                self.host.log(f"{name}: scratch build task {task_id}")
            if not running:
                break
            finished = self.host.wait(sorted(running))
            built: List[str] = []
            for task_id in sorted(finished):
                name = running.pop(task_id)
                ok, result = finished[task_id]
                if ok:
                    ok, result = self._collect(name, task_id)
                if ok:
                    built.append(name)
                    continue
                self.outcomes[name].state, self.outcomes[name].message = "failed", str(result)[-2000:]
                for skipped in sorted(queue.failed(name)):
                    self.outcomes[skipped].state = "skipped"
                    self.outcomes[skipped].message = f"needs {name}, which failed"
            if built:
                self._publish()
                pending = [n for n, o in self.outcomes.items() if o.state in ("waiting", "building") and n not in built]
                if pending:  # dependents must see these results in the stream tag's repo
                    self.host.wait_repo(self.target)
                for name in built:
                    self.outcomes[name].state = "done"
                    queue.done(name)
        return self._finish()

    def _collect(self, name: str, task_id: int) -> Tuple[bool, str]:
        """Download the binary RPMs of a finished scratch build into the stream repo."""
        srpm = None
        got: List[str] = []
        for child in self.host.children(task_id):
            if child.get("method") != "buildArch":
                continue
            for out in self.host.list_output(child["id"]):
                base = os.path.basename(out)
                if base.endswith(".src.rpm"):
                    srpm = base
                elif base.endswith(".rpm"):
                    if self.owner.get(base, name) != name:
                        return False, (f"unique-binary-names: {base} is also built by {self.owner[base]}")
                    os.makedirs(self.repo, exist_ok=True)
                    self.host.download(child["id"], out, os.path.join(self.repo, base))
                    self.owner[base] = name
                    got.append(base)
        if not got:
            return False, f"scratch build task {task_id} produced no binary RPMs"
        outcome = self.outcomes[name]
        outcome.rpms = [f"{hubapi.RESULT_DIR}/{b}" for b in sorted(got)]
        outcome.nvr = srpm[: -len(".src.rpm")] if srpm else None
        return True, ""

    def _publish(self) -> None:
        update_repo(self.repo)
        for base in sorted(os.listdir(self.repo)):
            if base.endswith(".rpm") and base not in self.uploaded:
                self.host.upload(os.path.join(self.repo, base), hubapi.RESULT_DIR)
                self.uploaded.add(base)
        meta = os.path.join(self.repo, "repodata")
        for base in sorted(os.listdir(meta)):
            self.host.upload(os.path.join(meta, base), f"{hubapi.RESULT_DIR}/repodata")
        self.host.log(f"published {len(self.uploaded)} RPMs to the stream repository")

    def _finish(self) -> Dict[str, Any]:
        for outcome in self.outcomes.values():
            if outcome.state == "waiting":
                outcome.state, outcome.message = "not-started", "the stream stopped"
        result = {"stream": self.submission.stream, "tag": self.target, "repo": hubapi.RESULT_DIR,
                  "components": [self.outcomes[c.name].to_json() for c in self.submission.components]}
        path = os.path.join(self.workdir, hubapi.RESULT_FILE)
        write_json(path, result)
        self.host.upload(path, "")
        failed = [o.name for o in self.outcomes.values() if o.state == "failed"]
        if failed:
            skipped = [o.name for o in self.outcomes.values() if o.state in ("skipped", "not-started")]
            text = f"{len(failed)} component(s) failed: {', '.join(failed)}"
            if skipped:
                text += f"; not built: {', '.join(skipped)}"
            raise BuildFailed(text)
        return result


def run_stream(request: Any, host: TaskHost, workdir: str, options: BuilderOptions) -> Dict[str, Any]:
    """Run a ``streamBuild`` task; return its result, or raise (StreamAbort, BuildFailed) to fail it."""
    submission, target = parse_request(request, options.settings)
    os.makedirs(workdir, exist_ok=True)
    return StreamRun(submission, target, host, workdir, options).run()

