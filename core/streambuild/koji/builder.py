"""The ``streamBuild`` task: chained scratch builds of a stream set, in DAG order.

Koji never tags scratch results, so a scratch build cannot see another one. The task
makes the chain real: each scratch ``build`` subtask's RPMs are downloaded and published
into the stream's repository (createrepo_c) in the task's own output directory, which
the stream tag carries as an external repository; dependents start once a repo of the
stream tag made after that publication is ready.

- **No deadlock**: the hub plugin gave ``repo/`` valid empty metadata before the stream
  tag existed (:func:`streambuild.koji.repodata.write_empty`); every later publication
  uploads the new RPMs and checksummed metadata files first and then has the hub swap
  the index in one rename (``streambuild.publish``), so a ``newRepo`` never sees a
  half-written repository. The swap also records the external repository's change, so
  ``repo.request(tag, min_event=<that event>)`` asks exactly for a repo holding it.
- **Few regenerations**: :class:`~streambuild.koji.regen.RegenPlanner` coalesces them
  (components finishing while one is pending or running share the next), a dependent
  waits for at most one after its last dependency finished, and a stream asks for at
  most its plan's depth + 1 (the count is in the result).
- The task polls: finished subtasks (``host.taskWait``), the regeneration under way
  (``repo.checkRequest``), and starts what became ready, by critical-path priority with
  the durations the client sent. A failure skips everything that needs it while
  independent components go on; its Koji fault and the end of its build log go into the
  result. A repo of the stream tag that cannot be made (kojira gave up) fails the stream
  with the ``newRepo`` task's fault.

The task's result (also uploaded as ``result.json``) lists every component with its
subtask id, NVR, outcome and RPMs (paths in the task output), and the regenerations.
When anything failed the task fails, naming the failed components.

The task runs in kojid through ``koji_hub_plugin/streambuild_builder.py``; everything it
asks of Koji goes through :class:`TaskHost` (:class:`streambuild._foreign.koji.TaskHostAdapter`).
"""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Set, Tuple

from .. import gitops, scheduler, srpm
from ..errors import BuildFailed, EnvironmentProblem, InputError, SourceError, StreamAbort, StreamBuildError
from ..sources import prepare
from ..workdir import WorkDir, write_json
from . import hubapi, repodata
from .regen import RegenPlanner

SRPM_DIR = "srpms"
LOG_TAIL_LINES = 40


class TaskHost(Protocol):
    """What the task needs from Koji (a ``koji.tasks.BaseTaskHandler`` and its host session)."""

    task_id: int

    def build(self, src: str, target: str, opts: Mapping[str, Any], label: str) -> int:
        """Start a ``build`` subtask; return its id."""

    def finished(self, task_ids: Sequence[int]) -> Dict[int, Tuple[bool, Any]]:
        """Which of ``task_ids`` finished since the last call (without waiting): (ok, result or fault text)."""

    def children(self, task_id: int) -> List[Mapping[str, Any]]: ...

    def list_output(self, task_id: int) -> Dict[str, int]:
        """The task's output files with their sizes."""

    def download(self, task_id: int, name: str, dest: str) -> None: ...

    def read_tail(self, task_id: int, name: str, size: int) -> str:
        """The last ``size`` bytes of an output file of a task."""

    def upload(self, path: str, relpath: str) -> None:
        """Upload a file into this task's output directory under ``relpath`` ('' for the top)."""

    def publish(self, staged: str) -> Mapping[str, Any]:
        """``streambuild.publish``: swap in the staged index; returns ``timestamp`` and ``event``."""

    def request_repo(self, tag: str, min_event: Optional[int]) -> Mapping[str, Any]:
        """``repo.request``: ``repo`` when one is ready, else the ``request`` to follow."""

    def check_request(self, request_id: int) -> Mapping[str, Any]:
        """``repo.checkRequest``: ``repo`` once ready; ``request`` (``active``, ``task_id``...)."""

    def task_fault(self, task_id: int) -> str: ...

    def cancel_children(self) -> None: ...

    def sleep(self, seconds: float) -> None: ...

    def log(self, message: str) -> None: ...


@dataclass(frozen=True)
class BuilderOptions:
    """The builder plugin's settings (``[builder]`` of the streambuild config on the builder)."""

    verify_commits: bool = True
    git_cache: str = "/var/cache/kojid/streambuild"
    settings: hubapi.HubSettings = field(default_factory=hubapi.HubSettings)
    poll_interval: float = 6.0
    repo_timeout: float = 7200.0  # as Koji's RepoWatcher: two hours for one repo

    @classmethod
    def from_settings(cls, settings: hubapi.HubSettings) -> "BuilderOptions":
        return cls(settings.verify_commits, settings.git_cache, settings, settings.repo_poll_interval)


@dataclass
class ComponentOutcome:
    name: str
    buildonly: bool
    state: str = "waiting"  # waiting, building, done, failed, skipped, not-started
    task_id: Optional[int] = None
    nvr: Optional[str] = None
    rpms: List[str] = field(default_factory=list)  # paths in the task output (repo/<file>)
    message: str = ""
    log_tail: str = ""

    def to_json(self) -> Dict[str, Any]:
        return {"name": self.name, "buildonly": self.buildonly, "state": self.state, "task_id": self.task_id,
                "nvr": self.nvr, "rpms": list(self.rpms), "message": self.message, "log_tail": self.log_tail}


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
    """(Re)write the repository metadata of ``directory`` with createrepo_c: checksummed names, gzip."""
    os.makedirs(directory, exist_ok=True)
    try:
        proc = subprocess.run(["createrepo_c", "--quiet", "--no-database", "--unique-md-filenames",
                               "--general-compress-type=gz", directory], capture_output=True, text=True)
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
        self.uploaded: Set[str] = set()  # RPMs in the hub's repo/
        self.on_hub: Set[str] = set()  # metadata files the hub keeps (current and previous index)
        self.generation = 0
        self.owner: Dict[str, str] = {}  # rpm file name -> component
        self.planner = RegenPlanner(submission.dependencies)
        self.repos: List[int] = []  # the stream tag's repos this task waited for
        self.published_event: Optional[int] = None
        self.durations: Dict[str, float] = {}
        self._current: Set[str] = set()  # metadata files of the index the hub serves now

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
                made = make_srpm(self.submission, comp.name, work, local)
            except (SourceError, InputError) as exc:
                raise StreamAbort(f"{comp.name}: {exc.message}") from None
            self.host.upload(made, SRPM_DIR)
            srcs[comp.name] = f"{hubapi.task_relpath(self.host.task_id)}/{SRPM_DIR}/{os.path.basename(made)}"
        return srcs

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> Dict[str, Any]:
        if self.options.verify_commits:
            verify_commits(self.submission, self.options.git_cache)
        srcs = self.sources()
        deps = self.submission.dependencies
        durations = {c.name: c.duration for c in self.submission.components if c.duration is not None}
        self.durations = durations
        queue = scheduler.ReadyQueue(deps, scheduler.priorities(deps, durations or None))
        running: Dict[int, str] = {}
        self.planner.first(time.monotonic())
        regen = self._request(None)  # the stream tag's first repo: the (empty) stream repo merged
        while True:
            self._collect_finished(running, queue)
            if regen is not None:
                regen = self._follow(regen, queue)
            if regen is None and self.planner.wanted(time.monotonic()):
                self.planner.requested(time.monotonic())
                regen = self._request(self.published_event)
                if regen is not None:
                    regen = self._follow(regen, queue)
            if regen is None:  # dependents start on a repo that holds what they need
                self._start_ready(queue, srcs, running)
            if not running and regen is None and not self.planner.wanted(time.monotonic()):
                break
            self.host.sleep(self.options.poll_interval)
        return self._finish()

    def _start_ready(self, queue: scheduler.ReadyQueue, srcs: Mapping[str, str], running: Dict[int, str]) -> None:
        while True:
            name = queue.pop()
            if name is None:
                return
            task_id = self.host.build(srcs[name], self.target, {"scratch": True}, label=name)
            running[task_id] = name
            expected = self.durations.get(name)
            self.planner.started(name, time.monotonic() + expected if expected is not None else None)
            self.outcomes[name].state, self.outcomes[name].task_id = "building", task_id
            self.host.log(f"{name}: scratch build task {task_id}")

    def _collect_finished(self, running: Dict[int, str], queue: scheduler.ReadyQueue) -> None:
        if not running:
            return
        built: List[str] = []
        for task_id, (ok, result) in sorted(self.host.finished(sorted(running)).items()):
            name = running.pop(task_id)
            if ok:
                ok, result = self._collect(name, task_id)
            if ok:
                built.append(name)
                continue
            outcome = self.outcomes[name]
            outcome.state, outcome.message = "failed", str(result)[-2000:]
            outcome.log_tail = self._log_tail(task_id)
            skipped = sorted(queue.failed(name))
            self.planner.failed(name, skipped)
            for other in skipped:
                self.outcomes[other].state = "skipped"
                self.outcomes[other].message = f"needs {name}, which failed"
        if built:
            self._publish()
            for name in built:
                self.outcomes[name].state = "done"
                if self.planner.built(name):  # nothing waits for it: no regeneration needed
                    queue.done(name)

    def _request(self, min_event: Optional[int]) -> Optional[Mapping[str, Any]]:
        """Ask for a repo of the stream tag made at or after ``min_event`` (None: any, the first one)."""
        check = self.host.request_repo(self.target, min_event)
        if check.get("repo"):
            return {"repo": check["repo"], "request": None, "since": time.monotonic()}
        return {"repo": None, "request": check["request"], "since": time.monotonic()}

    def _follow(self, regen: Mapping[str, Any], queue: scheduler.ReadyQueue) -> Optional[Mapping[str, Any]]:
        """The regeneration under way: None once its repo is ready (its components then are visible)."""
        repo = regen.get("repo")
        if not repo:
            check = self.host.check_request(int(regen["request"]["id"]))
            repo = check.get("repo")
            request = check.get("request") or {}
            if not repo and not request.get("active", True):
                task = request.get("task_id")
                why = f"newRepo task {task} failed: {self.host.task_fault(task)}" if task else "kojira gave up on it"
                self._abort(f"the repo of stream tag {self.target} could not be generated: {why}")
            if not repo:
                if time.monotonic() - regen["since"] > self.options.repo_timeout:
                    self._abort(f"no repo of stream tag {self.target} after {self.options.repo_timeout:.0f} s")
                return regen
        if repo["id"] not in self.repos:
            self.repos.append(repo["id"])
        for name in sorted(self.planner.done(time.monotonic())):
            queue.done(name)
        self.host.log(f"repo {repo['id']} of {self.target} is ready ({self.planner.count} regeneration(s))")
        return None

    def _abort(self, message: str) -> None:
        self.host.cancel_children()
        for outcome in self.outcomes.values():
            if outcome.state in ("waiting", "building"):
                outcome.state, outcome.message = "not-started", message
        self._write_result()
        raise StreamAbort(message)

    # -- results and the stream repository ----------------------------------------------------

    def _collect(self, name: str, task_id: int) -> Tuple[bool, str]:
        """Download the binary RPMs of a finished scratch build into the stream repo."""
        found_srpm = None
        got: List[str] = []
        for child in self.host.children(task_id):
            if child.get("method") != "buildArch":
                continue
            for out in sorted(self.host.list_output(child["id"])):
                base = os.path.basename(out)
                if base.endswith(".src.rpm"):
                    found_srpm = base
                elif base.endswith(".rpm"):
                    if self.owner.get(base, name) != name:
                        return False, f"unique-binary-names: {base} is also built by {self.owner[base]}"
                    os.makedirs(self.repo, exist_ok=True)
                    self.host.download(child["id"], out, os.path.join(self.repo, base))
                    self.owner[base] = name
                    got.append(base)
        if not got:
            return False, f"scratch build task {task_id} produced no binary RPMs"
        outcome = self.outcomes[name]
        outcome.rpms = [f"{hubapi.RESULT_DIR}/{b}" for b in sorted(got)]
        outcome.nvr = found_srpm[: -len(".src.rpm")] if found_srpm else None
        return True, ""

    def _log_tail(self, task_id: int) -> str:
        """The end of the failed build's most telling log (build.log, root.log, checkout.log)."""
        try:
            tasks = [c["id"] for c in self.host.children(task_id)] + [task_id]
            for log in ("build.log", "root.log", "checkout.log"):
                for tid in tasks:
                    sizes = self.host.list_output(tid)
                    if sizes.get(log):
                        text = self.host.read_tail(tid, log, min(sizes[log], 16384))
                        return "".join(text.splitlines(True)[-LOG_TAIL_LINES:])
        except StreamBuildError as exc:
            return f"(no log: {exc})"
        return ""

    def _publish(self) -> None:
        """Upload new RPMs and metadata files, then have the hub swap the index in (atomically)."""
        update_repo(self.repo)
        for base in sorted(os.listdir(self.repo)):
            if base.endswith(".rpm") and base not in self.uploaded:
                self.host.upload(os.path.join(self.repo, base), hubapi.RESULT_DIR)
                self.uploaded.add(base)
        meta = os.path.join(self.repo, repodata.REPODATA)
        index = os.path.join(meta, repodata.REPOMD)
        new = {os.path.basename(href) for href, *_ in repodata.references(index)}
        for base in sorted(new - self.on_hub):
            self.host.upload(os.path.join(meta, base), f"{hubapi.RESULT_DIR}/{repodata.REPODATA}")
        self.generation += 1
        staged = f"repomd-{self.generation}.xml"
        os.replace(index, os.path.join(meta, staged))
        self.host.upload(os.path.join(meta, staged), f"{hubapi.RESULT_DIR}/{repodata.STAGED_DIR}")
        os.replace(os.path.join(meta, staged), index)
        answer = self.host.publish(staged)
        self.published_event = int(answer["event"])
        self.on_hub = self._current | new
        self._current = new
        self.host.log(f"published {len(self.uploaded)} RPMs to the stream repository (event {self.published_event})")

    def _write_result(self) -> Dict[str, Any]:
        for outcome in self.outcomes.values():
            if outcome.state == "waiting":
                outcome.state, outcome.message = "not-started", "the stream stopped"
        result = {"stream": self.submission.stream, "tag": self.target, "repo": hubapi.RESULT_DIR,
                  "components": [self.outcomes[c.name].to_json() for c in self.submission.components],
                  "regenerations": {"count": self.planner.count, "bound": self.planner.bound,
                                    "depth": self.planner.depth, "repos": list(self.repos)}}
        path = os.path.join(self.workdir, hubapi.RESULT_FILE)
        write_json(path, result)
        self.host.upload(path, "")
        return result

    def _finish(self) -> Dict[str, Any]:
        result = self._write_result()
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
