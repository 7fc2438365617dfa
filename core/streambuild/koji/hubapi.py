"""The hub side of stream builds, as plain functions over an explicit :class:`HubContext`.

The hub plugin (``koji_hub_plugin/streambuild_hub.py``) only adapts kojihub to
:class:`HubContext` and maps errors to Koji faults; everything it decides is here:

- what a submission is (:class:`Submission`, in :mod:`.submission`): the lock (every
  component at a full commit) plus what the manifest says of each component, validated
  field by field, with allowed SCM hosts enforced (:func:`parse_submission`); the
  plugins' config file is :mod:`.settings`;
- the policy data ``assert_policy('stream_build', data)`` sees (:func:`policy_data`);
- idempotency: the stream tag's name is derived from the submission's key, so a
  retried submit finds the tag (and its task) instead of starting a second build;
- stream tag naming, the stream's result repository URL, and the ``streamBuild``
  task's request (:meth:`Submission.to_request`);
- :func:`submit`, :func:`status`, :func:`list_streams` and :func:`cancel`;
- :func:`publish`: the builder's atomic swap of the stream repository's index
  (:mod:`.repodata`), which also tells the hub the external repository changed (as
  kojira would, a minute later), so that the stream tag's next repo request is exact.

Errors: :class:`~streambuild.errors.InputError` for bad requests (Koji's
``ParameterError``), :class:`~streambuild.errors.PolicyDenied` for refusals (Koji's
``ActionNotAllowed``), :class:`NotLoggedIn` (Koji's ``AuthError``).
"""

from __future__ import annotations

import json
import re
from typing import Any, Dict, List, Mapping, Optional, Protocol, Sequence, Tuple

from .. import policy as policy_mod
from .. import values
from ..errors import InputError, NotLoggedIn, PolicyDenied, StreamBuildError
from ..policy import rules
from . import POLICY_NAME, TASK_METHOD, repodata
# the hub's vocabulary, re-exported: the hub shim, the builder and the client speak it through this module
from .settings import CONFIG_ENV as CONFIG_ENV
from .settings import DEFAULT_CONFIG as DEFAULT_CONFIG
from .settings import HubSettings as HubSettings
from .settings import load_settings as load_settings
from .submission import SUBMISSION_VERSION as SUBMISSION_VERSION
from .submission import Submission as Submission
from .submission import SubmittedComponent as SubmittedComponent
from .submission import parse_lock as parse_lock
from .submission import parse_submission as parse_submission

RESULT_DIR = "repo"  # in the streamBuild task's output: the stream's repository
RESULT_FILE = "result.json"  # in the streamBuild task's output: every component's outcome
MERGE_MODES = ("koji", "simple", "bare")
_TAG_NAME = re.compile(r"[A-Za-z0-9/_.+-]+\Z")  # what Koji accepts in tag names

# Koji's task states (koji.TASK_STATES), by number: kept here so that this module needs no koji.
TASK_STATES = ("FREE", "OPEN", "CLOSED", "CANCELED", "ASSIGNED", "FAILED")
FINISHED = ("CLOSED", "CANCELED", "FAILED")


# ---------------------------------------------------------------------------
# naming, policy data, SCM URLs
# ---------------------------------------------------------------------------


def stream_tag_name(build_tag: str, stream: str, key: str) -> str:
    """The per-stream build tag: ``<build tag>-stream-<stream>-<key[:12]>``; also its target's name."""
    name = f"{build_tag}-stream-{stream}-{key[:12]}"
    if not _TAG_NAME.match(name) or len(name) > 200:
        raise InputError(f"cannot make a valid tag name for stream {stream!r} on {build_tag!r}")
    return name


def repo_url(topurl: str, task_id: int) -> str:
    """Where the stream's results repository is served: the task's output directory under ``topurl``."""
    return f"{topurl.rstrip('/')}/work/{task_relpath(task_id)}/{RESULT_DIR}/"


def task_relpath(task_id: int) -> str:
    """Koji's relative path of a task's work directory (``koji.pathinfo.taskrelpath``)."""
    return f"tasks/{task_id % 10000}/{task_id}"


def scm_url(url: str, commit: str) -> str:
    """Koji's SCM URL of a git repository at a commit: ``git://host/repo.git#<commit>``, ``git+https://...``."""
    values.check_commit(commit)
    return (url if url.startswith("git://") else f"git+{url}") + f"#{commit}"


def policy_data(submission: Submission, user: Mapping[str, Any], target: Mapping[str, Any],
                base_packages: Sequence[str]) -> Dict[str, Any]:
    """What ``stream_build`` policies test: plain fields for koji's own tests, details for ours."""
    comps = submission.components
    return {
        "user_id": user["id"],
        "user": user["name"],
        "target": target["name"],
        "build_tag": target["build_tag_name"],
        "stream": submission.stream,
        "base": submission.base.name,
        "scratch": True,
        "components": [c.name for c in comps],
        "sources": [c.locked.url for c in comps],
        "refs": [c.locked.ref for c in comps],
        "commits": [c.locked.commit for c in comps],
        "buildonly": [c.name for c in comps if c.buildonly],
        "replaces": [c.name for c in comps if c.replaces],
        "macros": sorted({n for n, _ in submission.macros} | {n for c in comps for n, _ in c.macros}),
        "install": list(submission.install),
        "base_packages": sorted(base_packages),
        "stream_submission": {"lock": submission.lock.to_json(), "opts": submission.options()},
    }


def submission_from_policy_data(data: Mapping[str, Any]) -> Optional[Submission]:
    """The submission a ``stream_build`` policy is evaluating, or None for other policies' data."""
    raw = data.get("stream_submission")
    if not isinstance(raw, Mapping):
        return None
    permissive = HubSettings(allowed_scm_hosts=("*",), allowed_schemes=values.URL_SCHEMES, max_components=1 << 30)
    return parse_submission(raw.get("lock"), raw.get("opts"), permissive)


def explain_denial(data: Mapping[str, Any], settings: HubSettings, rule_names: Optional[Sequence[str]] = None) -> str:
    """Every core-rule denial for a stream's policy data, one ``component: rule: reason`` each."""
    from ..policy.acl import (
        from_spec,  # the ACL may reach a forge; only when a denial is explained
    )

    submission = submission_from_policy_data(data)
    if submission is None:
        return ""
    data_in = submission.policy_input(data.get("user"), frozenset(data.get("base_packages") or ()), settings,
                                      from_spec(settings.acl))
    chosen: List[policy_mod.Rule] = [r for r in rules.BUILTIN_RULES if rule_names is None or r.name in rule_names]
    return policy_mod.summary(policy_mod.evaluate(data_in, chosen))


# ---------------------------------------------------------------------------
# the hub calls
# ---------------------------------------------------------------------------


class HubContext(Protocol):
    """What the hub plugin's calls need from Koji's hub (kojihub, or a test hub)."""

    def user(self) -> Optional[Mapping[str, Any]]:
        """The logged-in user (``id``, ``name``), or None."""

    def is_admin(self) -> bool: ...

    def check_policy(self, name: str, data: Mapping[str, Any]) -> Tuple[bool, str]:
        """``(allowed, reason)`` of the named hub policy for ``data``."""

    def build_target(self, name: str) -> Optional[Mapping[str, Any]]:
        """``getBuildTarget``: ``name``, ``build_tag``, ``build_tag_name``, ``dest_tag``..."""

    def tag(self, name: str) -> Optional[Mapping[str, Any]]:
        """``getTag``: ``id``, ``name``, ``arches``, ``extra``."""

    def tag_package_names(self, tag_id: int) -> Sequence[str]:
        """Binary package names of the latest builds in a tag, with inheritance."""

    def create_stream_tag(self, name: str, parent_id: int, arches: Optional[str], extra: Mapping[str, Any]) -> int: ...

    def create_target(self, name: str, build_tag_id: int, dest_tag_id: int) -> None: ...

    def external_repos(self, tag_id: int) -> Sequence[Mapping[str, Any]]:
        """``getExternalRepoList``: the external repos of a tag and its parents (``merge_mode`` ...)."""

    def add_external_repo(self, tag_id: int, repo_name: str, url: str, merge_mode: str) -> None: ...

    def external_repo_changed(self, repo_name: str, timestamp: int) -> None:
        """Record an external repo's new ``repomd.xml`` timestamp (kojira's setExternalRepoData): a change event."""

    def tag_last_change(self, tag_id: int) -> int:
        """``tagLastChangeEvent``."""

    def task_output_dir(self, task_id: int) -> str:
        """The task's output directory on this hub (``<KojiDir>/work/tasks/<N>/<id>``)."""

    def runs_task(self, task_id: int) -> bool:
        """Whether the calling host owns the open task (kojihub's ``Task.verifyHost``)."""

    def make_task(self, method: str, args: Sequence[Any], owner_id: int, channel: Optional[str]) -> int: ...

    def task(self, task_id: int) -> Optional[Mapping[str, Any]]:
        """``getTaskInfo(task_id, request=True)``, or None."""

    def task_children(self, task_id: int) -> Sequence[Mapping[str, Any]]: ...

    def task_fault(self, task_id: int) -> Optional[str]:
        """The fault text of a failed task (None if it did not fail)."""

    def task_output(self, task_id: int, name: str) -> Optional[bytes]:
        """A file of the task's output directory, or None."""

    def cancel_task(self, task_id: int) -> None: ...

    def list_tasks(self, method: str, owner_id: Optional[int], states: Optional[Sequence[int]]) -> Sequence[Mapping[str, Any]]: ...

    def user_id(self, name: str) -> Optional[int]: ...

    def topurl(self) -> str: ...


def submit(ctx: HubContext, settings: HubSettings, lock: Any, target: Any, opts: Any) -> int:
    """``streambuild.submit``: validate, check policy, create the stream tag and the ``streamBuild`` task."""
    user = ctx.user()
    if user is None:
        raise NotLoggedIn("streambuild.submit needs a logged-in user")
    if not isinstance(target, str) or not target:
        raise InputError("target must be the name of a build target")
    submission = parse_submission(lock, opts, settings)
    target_info = ctx.build_target(target)
    if target_info is None:
        raise InputError(f"no such build target: {target}")
    tag_name = stream_tag_name(target_info["build_tag_name"], submission.stream, submission.key)
    existing = ctx.tag(tag_name)
    if existing is not None:
        return _existing_task(existing, user, submission.key)
    build_tag = ctx.tag(target_info["build_tag_name"])
    if build_tag is None:
        raise InputError(f"build target {target} names a missing build tag {target_info['build_tag_name']}")
    data = policy_data(submission, user, target_info, ctx.tag_package_names(build_tag["id"]))
    allowed, reason = ctx.check_policy(POLICY_NAME, data)
    if not allowed:
        detail = explain_denial(data, settings)
        message = f"policy violation ({POLICY_NAME}): {reason or 'denied'}"
        raise PolicyDenied(message + (f"; {detail}" if detail else ""))
    mode = merge_mode(ctx.external_repos(build_tag["id"]), submission)
    request = submission.to_request(tag_name, target)
    task_id = ctx.make_task(TASK_METHOD, [request], user["id"], settings.channel)
    # valid (empty) metadata before the tag exists: no repo of it can ever be asked for without
    result_dir = f"{ctx.task_output_dir(task_id)}/{RESULT_DIR}"
    try:
        repodata.write_empty(result_dir)
    except OSError as exc:
        raise StreamBuildError(f"cannot write the stream repository's metadata in {result_dir}: {exc}") from None
    extra: Dict[str, Any] = {
        "streambuild.key": submission.key,
        "streambuild.task_id": task_id,
        "streambuild.user_id": user["id"],
        "streambuild.stream": submission.stream,
    }
    for name, value in submission.macros:
        extra[f"rpm.macro.{name}"] = value
    tag_id = ctx.create_stream_tag(tag_name, build_tag["id"], build_tag.get("arches"), extra)
    ctx.create_target(tag_name, tag_id, tag_id)
    ctx.add_external_repo(tag_id, external_repo_name(tag_name), repo_url(settings.topurl or ctx.topurl(), task_id),
                          mode)
    return task_id


def external_repo_name(tag_name: str) -> str:
    return f"{tag_name}-results"


def merge_mode(inherited: Sequence[Mapping[str, Any]], submission: Submission) -> str:
    """The stream repo's merge mode: kojid merges all of a tag's external repos in one mode.

    With none inherited, ``bare`` (every package of every repo, so a ``replaces: true``
    component is offered beside the base's and the higher version wins); otherwise the
    inherited one. In ``koji`` mode the base tag's package of the same source name hides
    the stream's, so ``replaces: true`` components are refused there.
    """
    modes = sorted({str(e.get("merge_mode") or "koji") for e in inherited})
    if len(modes) > 1:
        raise InputError(f"the build tag's external repos use several merge modes ({', '.join(modes)}); "
                         "kojid cannot merge them, so no stream tag can inherit from it")
    mode = modes[0] if modes else "bare"
    if mode == "koji":
        replacing = [c.name for c in submission.components if c.replaces]
        if replacing:
            raise InputError(f"the build tag's external repos use merge mode koji, where the base's package of the "
                             f"same source name hides a stream component's; replaces: true cannot work for "
                             f"{', '.join(replacing)}")
    return mode


def _existing_task(tag: Mapping[str, Any], user: Mapping[str, Any], key: str) -> int:
    extra = tag.get("extra") or {}
    if extra.get("streambuild.key") != key:
        raise InputError(f"tag {tag['name']} exists and is not this stream's (its key differs)")
    if extra.get("streambuild.user_id") != user["id"]:
        raise PolicyDenied(f"idempotency key {key[:12]}… belongs to another user's stream")
    return int(extra["streambuild.task_id"])


def _stream_task(ctx: HubContext, task_id: Any) -> Mapping[str, Any]:
    if not isinstance(task_id, int):
        raise InputError("task_id must be an integer")
    info = ctx.task(task_id)
    if info is None:
        raise InputError(f"no such task: {task_id}")
    if info.get("method") != TASK_METHOD:
        raise InputError(f"task {task_id} is a {info.get('method')} task, not a stream build")
    return info


def status(ctx: HubContext, task_id: Any) -> Dict[str, Any]:
    """``streambuild.status``: the stream task and every component's state, in one call."""
    info = _stream_task(ctx, task_id)
    request = _request_of(info)
    state = TASK_STATES[info["state"]]
    components: Dict[str, Dict[str, Any]] = {}
    opts = request.get("opts", {}) if isinstance(request, Mapping) else {}
    for name in (opts.get("components") or {}):
        components[name] = {"name": name, "state": "waiting", "task_id": None, "nvr": None, "message": ""}
    for child in ctx.task_children(task_id):
        label = child.get("label")
        if label in components and child.get("method") == "build":
            cstate = TASK_STATES[child["state"]]
            components[label].update(task_id=child["id"], state={
                "FREE": "building", "ASSIGNED": "building", "OPEN": "building",
                "CLOSED": "done", "FAILED": "failed", "CANCELED": "failed"}[cstate], task_state=cstate)
    result: Optional[Mapping[str, Any]] = None
    raw = ctx.task_output(task_id, RESULT_FILE) if state in FINISHED else None
    if raw:
        try:
            result = json.loads(raw.decode("utf-8"))
        except ValueError:
            result = None
    if result:
        for entry in result.get("components", []):
            if entry.get("name") in components:
                components[entry["name"]].update({k: entry.get(k) for k in ("state", "task_id", "nvr", "message", "rpms",
                                                                            "buildonly", "log_tail")})
    if state == "CANCELED":
        for entry in components.values():
            if entry["state"] in ("waiting", "building"):
                entry["state"] = "canceled"
    return {
        "task_id": task_id,
        "state": state,
        "fault": ctx.task_fault(task_id) if state == "FAILED" else None,
        "owner": info.get("owner"),
        "tag": request.get("tag") if isinstance(request, Mapping) else None,
        "stream": opts.get("stream"),
        "components": list(components.values()),
        "result": RESULT_DIR if result else None,
        "regenerations": (result or {}).get("regenerations"),
    }


def _request_of(info: Mapping[str, Any]) -> Mapping[str, Any]:
    request = info.get("request") or []
    return request[0] if request and isinstance(request[0], Mapping) else {}


def list_streams(ctx: HubContext, user: Any = None, state: Any = None) -> List[Dict[str, Any]]:
    """``streambuild.list``: stream tasks, optionally of one user (name or id) and in given states."""
    owner: Optional[int] = None
    if user is not None:
        if isinstance(user, int):
            owner = user
        elif isinstance(user, str):
            owner = ctx.user_id(user)
            if owner is None:
                raise InputError(f"no such user: {user}")
        else:
            raise InputError("user must be a name or an id")
    states: Optional[List[int]] = None
    if state is not None:
        wanted = [state] if isinstance(state, (str, int)) else list(state)
        states = []
        for item in wanted:
            if isinstance(item, int) and 0 <= item < len(TASK_STATES):
                states.append(item)
            elif isinstance(item, str) and item.upper() in TASK_STATES:
                states.append(TASK_STATES.index(item.upper()))
            else:
                raise InputError(f"unknown task state {item!r} (one of {', '.join(TASK_STATES)})")
    out = []
    for info in ctx.list_tasks(TASK_METHOD, owner, states):
        request = _request_of(info)
        out.append({"task_id": info["id"], "state": TASK_STATES[info["state"]], "owner": info.get("owner"),
                    "stream": (request.get("opts") or {}).get("stream"), "tag": request.get("tag")})
    return out


def cancel(ctx: HubContext, task_id: Any) -> Dict[str, Any]:
    """``streambuild.cancel``: the owner or an admin cancels a stream and all its builds."""
    user = ctx.user()
    if user is None:
        raise NotLoggedIn("streambuild.cancel needs a logged-in user")
    info = _stream_task(ctx, task_id)
    if info.get("owner") != user["id"] and not ctx.is_admin():
        raise PolicyDenied(f"cannot cancel stream task {task_id}: {user['name']} is neither its owner nor an admin")
    if TASK_STATES[info["state"]] not in FINISHED:
        ctx.cancel_task(task_id)
    return status(ctx, task_id)


def publish(ctx: HubContext, task_id: Any, staged: Any) -> Dict[str, Any]:
    """``streambuild.publish``: the stream task's host swaps in the stream repository's new index.

    Returns the timestamp of the new index and the stream tag's change event that it made
    (a repo of the tag created at or after it holds the new content).
    """
    info = _stream_task(ctx, task_id)
    if not ctx.runs_task(task_id):
        raise PolicyDenied(f"only the host running stream task {task_id} may publish its repository")
    request = _request_of(info)
    tag = ctx.tag(str(request.get("tag"))) if request.get("tag") else None
    if tag is None:
        raise InputError(f"stream task {task_id} has no stream tag")
    try:
        stamp = repodata.install(f"{ctx.task_output_dir(task_id)}/{RESULT_DIR}", staged)
    except OSError as exc:
        raise StreamBuildError(f"cannot publish the repository of stream task {task_id}: {exc}") from None
    ctx.external_repo_changed(external_repo_name(tag["name"]), stamp)
    return {"timestamp": stamp, "event": ctx.tag_last_change(tag["id"])}
