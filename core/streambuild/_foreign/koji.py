"""The only module that imports ``koji`` (and, inside a hub, ``kojihub``).

- Client side: :class:`HubSession` wraps ``koji.ClientSession``: login by the profile's
  authtype (GSSAPI goes through requests-gssapi, as koji does), calls and multicalls
  with transport errors retried with exponential backoff, chunked
  ``downloadTaskOutput``, uploads, and Koji faults mapped to stream-build errors.
- Builder side: :class:`TaskHostAdapter` gives :mod:`streambuild.koji.builder` what a
  ``koji.tasks.BaseTaskHandler`` can do (subtasks, waiting, outputs, uploads, repos).
- Hub side: :class:`KojihubContext` implements :class:`streambuild.koji.hubapi.HubContext`
  over kojihub's internal functions, imported lazily (only a hub has them).
- ``BaseSimpleTest``/``MatchTest``: koji's policy test classes, for
  :mod:`streambuild.koji.policytests`; ``read_config_files``/``ConfigurationError``: koji's
  configuration reader, for :mod:`streambuild.koji.config`.

Koji API facts relied on (checked against Koji 1.34-1.36): ``ClientSession(baseurl, opts)``
with ``max_retries``/``retry_interval``/``anon_retry``/``serverca``/``use_fast_upload``;
``gssapi_login(principal, keytab, ccache)`` (forces https, posts ``sslLogin`` to
``/ssllogin``); ``multicall(strict=False)`` returning ``VirtualCall`` objects whose
``.result`` raises the converted fault; ``koji.convertFault`` fault codes
(``ActionNotAllowed`` 1004, ``AuthError`` 1002, ``BuildError`` 1005, ``SequenceError`` 1008,
``RetryError`` 1009, ``ServerOffline`` 1014, ``ParameterError`` 1019...); ``host.subtask``/``taskSetWait``/``taskWait``/
``taskWaitResults(parent, tasks, canfail)``; ``repo.request``/``repo.checkRequest`` and
``kojihub.repos.set_external_repo_data`` (Koji >= 1.35); ``Task.verifyHost()``;
``downloadTaskOutput`` with a negative offset (the end of a log).
"""

from __future__ import annotations

import base64
import logging
import os
import time
import xmlrpc.client
from dataclasses import dataclass
from http.client import HTTPException
from typing import TYPE_CHECKING, Any, Callable, Dict, FrozenSet, Iterable, List, Mapping, Optional, Sequence, Tuple

import koji
import koji.policy
import requests

from ..errors import (BuildFailed, CallUncertain, EnvironmentProblem, HubFault, InputError, NotLoggedIn,
                      PolicyDenied, StreamBuildError)

if TYPE_CHECKING:  # only its fields are read: the wall imports nothing of stream-build's koji package
    from ..koji.config import KojiProfile

BaseSimpleTest = koji.policy.BaseSimpleTest
MatchTest = koji.policy.MatchTest
ConfigurationError = koji.ConfigurationError
read_config_files = koji.read_config_files  # the koji CLI's own reader: file order, directories, interpolation
TASK_STATES: Mapping[str, int] = {name: koji.TASK_STATES[name] for name in ("FREE", "OPEN", "CLOSED", "CANCELED", "ASSIGNED", "FAILED")}
DOWNLOAD_CHUNK = 8 * 1024 * 1024

log = logging.getLogger("streambuild.koji")

_TRANSPORT = (requests.exceptions.RequestException, OSError, HTTPException, xmlrpc.client.ProtocolError)


@dataclass(frozen=True)
class Retry:
    """Backoff for transport errors: ``attempts`` tries, waiting ``interval`` × ``factor``^n (capped)."""

    attempts: int = 5
    interval: float = 2.0
    factor: float = 2.0
    max_interval: float = 60.0

    def waits(self) -> Iterable[float]:
        wait = self.interval
        for _ in range(max(0, self.attempts - 1)):
            yield min(wait, self.max_interval)
            wait *= self.factor


def is_transport_error(exc: BaseException) -> bool:
    """A failure of the connection or the HTTP layer (the call may or may not have arrived)."""
    if isinstance(exc, (koji.RetryError, koji.ServerOffline)):
        return True  # a replayed call the hub already ran, or a hub in maintenance
    return isinstance(exc, _TRANSPORT) and not koji.is_requests_cert_error(exc)


def map_fault(exc: BaseException, what: str) -> StreamBuildError:
    """A Koji exception (converted fault) as the stream-build error a user sees."""
    message = f"{what}: {exc}"
    if isinstance(exc, koji.ActionNotAllowed):
        return PolicyDenied(message)
    if isinstance(exc, (koji.AuthError, koji.GSSAPIAuthError)):
        return EnvironmentProblem(f"{what}: the hub refused the login or session: {exc}")
    if isinstance(exc, koji.BuildError):
        return BuildFailed(message)
    if isinstance(exc, koji.ParameterError):
        return InputError(message)
    if isinstance(exc, koji.GenericError):
        if "Invalid method" in str(exc):
            return EnvironmentProblem(message)
        return InputError(message)
    if isinstance(exc, xmlrpc.client.Fault):
        return InputError(f"{what}: hub fault {exc.faultCode}: {exc.faultString}")
    return EnvironmentProblem(message)


class HubSession:
    """One client session with a Koji hub; counts the HTTP requests it makes (``requests``)."""

    def __init__(self, client: Any, retry: Retry = Retry(), sleep: Callable[[float], None] = time.sleep,
                 describe: str = "") -> None:
        self.client = client
        self.retry = retry
        self.sleep = sleep
        self.requests = 0
        self.describe = describe or getattr(client, "baseurl", "koji hub")
        self._methods: Optional[FrozenSet[str]] = None

    @classmethod
    def open(cls, profile: KojiProfile, retry: Optional[Retry] = None) -> "HubSession":
        """A session for ``profile`` (not logged in yet)."""
        opts: Dict[str, Any] = {
            "max_retries": 0,  # retries are ours: backoff, and new call numbers for replays
            "retry_interval": 0,
            "anon_retry": False,
            "timeout": profile.timeout,
            "auth_timeout": profile.auth_timeout,
            "use_fast_upload": True,
        }
        if profile.serverca:
            opts["serverca"] = profile.serverca
        if profile.no_ssl_verify:
            opts["no_ssl_verify"] = True
        if profile.cert:
            opts["cert"] = profile.cert
        if profile.authtype == "password":
            opts.update(user=profile.user, password=profile.password)
        retry = retry or Retry(attempts=max(1, profile.max_retries + 1), interval=max(profile.retry_interval, 0.01))
        return cls(koji.ClientSession(profile.server, opts), retry, describe=f"koji hub {profile.server}")

    # -- login -----------------------------------------------------------------------

    def login(self, profile: KojiProfile) -> Optional[Dict[str, Any]]:
        """Log in as the profile says; return the user (``id``, ``name``; None for ``noauth``)."""
        kind = profile.authtype
        if kind == "noauth":
            return None
        try:
            self.requests += 1
            if kind == "gssapi":
                # koji's gssapi_login tries max_retries times (zero tries when 0): one try here
                self.client.opts["max_retries"] = 1
                try:
                    self.client.gssapi_login(principal=profile.principal, keytab=profile.keytab, ccache=profile.ccache)
                finally:
                    self.client.opts["max_retries"] = 0
            elif kind == "ssl":
                self.client.ssl_login(cert=profile.cert, serverca=profile.serverca)
            else:
                self.client.login()
        except koji.GenericError as exc:
            raise EnvironmentProblem(f"{self.describe}: {kind} login failed: {exc}") from None
        except _TRANSPORT as exc:
            raise EnvironmentProblem(f"{self.describe}: cannot log in ({kind}): {exc}") from None
        user = self.call("getLoggedInUser")
        return dict(user) if isinstance(user, dict) else None

    # -- calls -----------------------------------------------------------------------

    def _attempts(self, what: str, func: Callable[[], Any], retry: bool) -> Any:
        waits = iter(self.retry.waits() if retry else ())
        while True:
            self.requests += 1
            try:
                return func()
            except (koji.GenericError, xmlrpc.client.Fault) as exc:
                if is_transport_error(exc):
                    if not retry:
                        raise CallUncertain(f"{self.describe}: {what}: {exc}") from None
                    wait = next(waits, None)
                    if wait is not None:
                        log.info("%s: %s; retrying in %.1f s", what, exc, wait)
                        self.sleep(wait)
                        continue
                    raise EnvironmentProblem(f"{self.describe}: {what} kept failing: {exc}") from None
                raise map_fault(exc, f"{self.describe}: {what}") from None
            except _TRANSPORT as exc:
                if koji.is_requests_cert_error(exc):
                    raise EnvironmentProblem(f"{self.describe}: TLS certificate problem: {exc}") from None
                if not retry:
                    raise CallUncertain(f"{self.describe}: {what}: {exc}") from None
                wait = next(waits, None)
                if wait is None:
                    raise EnvironmentProblem(
                        f"{self.describe}: {what} failed after {self.retry.attempts if retry else 1} attempt(s): {exc}"
                    ) from None
                log.info("%s: %s; retrying in %.1f s", what, exc, wait)
                self.sleep(wait)

    def call(self, method: str, *args: Any, retry: bool = True, **kwargs: Any) -> Any:
        """One hub call; transport errors are retried (only pass ``retry=False`` for non-idempotent calls)."""
        return self._attempts(method, lambda: self.client.callMethod(method, *args, **kwargs), retry)

    def multicall(self, calls: Sequence[Tuple[str, Sequence[Any], Mapping[str, Any]]], retry: bool = True) -> List[Any]:
        """Many calls in ONE HTTP request; each result is the value or a :class:`HubFault`."""
        if not calls:
            return []

        def run() -> List[Any]:
            session = self.client.multicall(strict=False)
            pending = [session.callMethod(name, *args, **dict(kwargs)) for name, args, kwargs in calls]
            session.call_all()
            out: List[Any] = []
            for call in pending:
                try:
                    out.append(call.result)
                except (koji.GenericError, xmlrpc.client.Fault) as exc:
                    out.append(HubFault(getattr(exc, "faultCode", 1), str(exc)))
            return out

        return self._attempts(f"multicall of {len(calls)}", run, retry)

    def methods(self) -> FrozenSet[str]:
        """Every method the hub offers (``system.listMethods``), asked once."""
        if self._methods is None:
            self._methods = frozenset(self.call("system.listMethods"))
        return self._methods

    def download_task_output(self, task_id: int, name: str, dest: str, size: Optional[int] = None) -> int:
        """Download one output file of a task in chunks (``downloadTaskOutput``); return its size."""
        tmp = f"{dest}.part"
        offset = 0
        with open(tmp, "wb") as handle:
            while True:
                data = self.call("downloadTaskOutput", task_id, name, offset=offset, size=DOWNLOAD_CHUNK)
                chunk = base64.b64decode(data)
                handle.write(chunk)
                offset += len(chunk)
                if len(chunk) < DOWNLOAD_CHUNK or (size is not None and offset >= size):
                    break
        if size is not None and offset != size:
            os.unlink(tmp)
            raise EnvironmentProblem(f"{self.describe}: {name} of task {task_id}: got {offset} bytes, expected {size}")
        os.replace(tmp, dest)
        return offset

    def upload(self, path: str, server_dir: str) -> str:
        """Upload a file into the hub's work area (``fastUpload``); return its relative path there."""
        name = os.path.basename(path)
        self._attempts(f"upload of {name}", lambda: self.client.uploadWrapper(path, server_dir, name, overwrite=True), True)
        return f"{server_dir}/{name}"

    def logout(self) -> None:
        try:
            self.client.logout()
        except Exception:  # noqa: BLE001 - logging out is a courtesy
            pass


def unique_upload_dir(prefix: str = "cli-build") -> str:
    """A fresh directory name in the hub's work area, as the koji CLI makes them (``cli-build/<time>.<random>``)."""
    return f"{prefix}/{time.time():.6f}.{os.urandom(4).hex()}"


# ---------------------------------------------------------------------------
# builder side
# ---------------------------------------------------------------------------


class TaskHostAdapter:
    """What :mod:`streambuild.koji.builder` needs, over a running ``BaseTaskHandler``."""

    def __init__(self, handler: Any) -> None:
        self.handler = handler
        self.session = handler.session
        self.task_id: int = handler.id
        self._awaited: Optional[List[int]] = None  # what host.taskSetWait was last told

    def build(self, src: str, target: str, opts: Mapping[str, Any], label: str) -> int:
        return self.session.host.subtask(method="build", arglist=[src, target, dict(opts)],
                                         parent=self.task_id, label=label)

    def finished(self, task_ids: Sequence[int]) -> Dict[int, Tuple[bool, Any]]:
        """Which of ``task_ids`` finished (``host.taskSetWait``/``taskWait``/``taskWaitResults``), without waiting.

        ``taskSetWait`` is only called again when the set changed (``taskWaitResults`` clears it).
        """
        if self._awaited != sorted(task_ids):
            self.session.host.taskSetWait(self.task_id, sorted(task_ids))
            self._awaited = sorted(task_ids)
        done, _unfinished = self.session.host.taskWait(self.task_id)
        done = [t for t in done if t in task_ids]
        if not done:
            return {}
        self._awaited = None
        out: Dict[int, Tuple[bool, Any]] = {}
        for task_id, result in self.session.host.taskWaitResults(self.task_id, done, canfail=done):
            failed = isinstance(result, dict) and "faultCode" in result
            out[int(task_id)] = (not failed, result.get("faultString", "failed") if failed else result)
        return out

    def children(self, task_id: int) -> List[Mapping[str, Any]]:
        return list(self.session.getTaskChildren(task_id))

    def list_output(self, task_id: int) -> Dict[str, int]:
        listing = self.session.listTaskOutput(task_id, stat=True)
        return {name: int(st.get("st_size", 0)) for name, st in listing.items()}

    def download(self, task_id: int, name: str, dest: str) -> None:
        HubSession(self.session, Retry(attempts=3, interval=1.0)).download_task_output(task_id, name, dest)

    def read_tail(self, task_id: int, name: str, size: int) -> str:
        data = self.session.callMethod("downloadTaskOutput", task_id, name, offset=-size, size=size)
        return base64.b64decode(data).decode("utf-8", "replace")

    def upload(self, path: str, relpath: str) -> None:
        self.handler.uploadFile(path, relPath=relpath)

    def publish(self, staged: str) -> Mapping[str, Any]:
        return self.session.callMethod("streambuild.publish", self.task_id, staged)

    def request_repo(self, tag: str, min_event: Optional[int]) -> Mapping[str, Any]:
        """``repo.request`` (Koji >= 1.35); ``min_event`` None lets the hub choose (any repo of a new tag)."""
        if min_event is None:
            return self.session.repo.request(tag)
        return self.session.repo.request(tag, min_event=min_event)

    def check_request(self, request_id: int) -> Mapping[str, Any]:
        return self.session.repo.checkRequest(request_id)

    def task_fault(self, task_id: int) -> str:
        try:
            self.session.getTaskResult(task_id)
        except Exception as exc:  # noqa: BLE001 - the fault is the answer
            return str(exc)
        return "no fault"

    def cancel_children(self) -> None:
        self.session.cancelTaskChildren(self.task_id)

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)  # a canceled task is killed by kojid

    def log(self, message: str) -> None:
        self.handler.logger.info("%s", message)


def build_error(message: str) -> Exception:
    """The exception a task handler raises to fail its task with ``message``."""
    return koji.BuildError(message)


# ---------------------------------------------------------------------------
# hub side
# ---------------------------------------------------------------------------


def fault_for(exc: StreamBuildError) -> Exception:
    """The Koji exception the hub plugin raises for a stream-build error."""

    if isinstance(exc, NotLoggedIn):
        return koji.AuthError(str(exc))
    if isinstance(exc, PolicyDenied):
        return koji.ActionNotAllowed(str(exc))
    if isinstance(exc, InputError):
        return koji.ParameterError(str(exc))
    return koji.GenericError(str(exc))


def plugin_error(message: str) -> Exception:
    return koji.PluginError(message)


def kojihub_problem() -> Optional[str]:
    """Why ``kojihub`` cannot be imported here (``None`` inside a hub, where it can)."""
    try:
        import kojihub  # noqa: F401
        from koji.context import context  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - a hub plugin must never fail at import: say why instead
        return f"kojihub is not importable: {exc}"
    return None


def hub_task_info(task_id: int) -> Optional[Mapping[str, Any]]:
    """A task of this hub (``kojihub.Task.getInfo``), or ``None`` for an unknown id."""
    import kojihub

    return kojihub.Task(task_id).getInfo(strict=False)


class KojihubContext:
    """:class:`streambuild.koji.hubapi.HubContext` over kojihub (importable only inside a hub)."""

    def __init__(self, topurl: Optional[str] = None) -> None:
        import kojihub
        from koji.context import context

        self.hub = kojihub
        self.context = context
        self._topurl = topurl

    def user(self) -> Optional[Mapping[str, Any]]:
        session = self.context.session
        if not session.logged_in:
            return None
        return self.hub.get_user(session.user_id, strict=True)

    def is_admin(self) -> bool:
        return bool(self.context.session.hasPerm("admin"))

    def check_policy(self, name: str, data: Mapping[str, Any]) -> Tuple[bool, str]:
        allowed, reason = self.hub.check_policy(name, dict(data), default="deny", strict=False)
        return bool(allowed), reason or ""

    def build_target(self, name: str) -> Optional[Mapping[str, Any]]:
        return self.hub.get_build_target(name)

    def tag(self, name: str) -> Optional[Mapping[str, Any]]:
        return self.hub.get_tag(name)

    def tag_package_names(self, tag_id: int) -> Sequence[str]:
        rpms, _builds = self.hub.readTaggedRPMS(tag_id, inherit=True, latest=True)
        return sorted({r["name"] for r in rpms if r.get("arch") != "src"})

    def create_stream_tag(self, name: str, parent_id: int, arches: Optional[str], extra: Mapping[str, Any]) -> int:
        return self.hub._create_tag(name, parent=parent_id, arches=arches, extra=dict(extra))

    def create_target(self, name: str, build_tag_id: int, dest_tag_id: int) -> None:
        self.hub._create_build_target(name, build_tag_id, dest_tag_id)

    def external_repos(self, tag_id: int) -> Sequence[Mapping[str, Any]]:
        return self.hub.get_external_repo_list(tag_id)

    def add_external_repo(self, tag_id: int, repo_name: str, url: str, merge_mode: str) -> None:
        """Under the plugin's authority (no ``admin``/``tag`` permission asked), for the stream's own tag."""
        from kojihub.db import InsertProcessor

        repo_id = self.hub.get_external_repo_id(repo_name, create=True)
        insert = InsertProcessor("external_repo_config")
        insert.set(external_repo_id=repo_id, url=url if url.endswith("/") else url + "/")
        insert.make_create()
        insert.execute()
        insert = InsertProcessor("tag_external_repos")
        insert.set(tag_id=tag_id, external_repo_id=repo_id, priority=1, merge_mode=merge_mode, arches=None)
        insert.make_create()
        insert.execute()

    def external_repo_changed(self, repo_name: str, timestamp: int) -> None:
        from kojihub.repos import set_external_repo_data  # Koji >= 1.35

        set_external_repo_data(repo_name, {"max_ts": timestamp})

    def tag_last_change(self, tag_id: int) -> int:
        return int(self.hub.tag_last_change_event(tag_id))

    def task_output_dir(self, task_id: int) -> str:
        return os.path.join(koji.pathinfo.work(), koji.pathinfo.taskrelpath(task_id))

    def runs_task(self, task_id: int) -> bool:
        return bool(self.hub.Task(task_id).verifyHost())

    def make_task(self, method: str, args: Sequence[Any], owner_id: int, channel: Optional[str]) -> int:
        opts: Dict[str, Any] = {"owner": owner_id}
        if channel:
            opts["channel"] = channel
        return self.hub.make_task(method, list(args), **opts)

    def task(self, task_id: int) -> Optional[Mapping[str, Any]]:
        return self.hub.Task(task_id).getInfo(strict=False, request=True)

    def task_children(self, task_id: int) -> Sequence[Mapping[str, Any]]:
        return self.hub.Task(task_id).getChildren()

    def task_fault(self, task_id: int) -> Optional[str]:
        try:
            result = self.hub.Task(task_id).getResult(raise_fault=False)
        except koji.GenericError as exc:  # canceled or unfinished
            return str(exc)
        return result.get("faultString") if isinstance(result, dict) and "faultCode" in result else None

    def task_output(self, task_id: int, name: str) -> Optional[bytes]:
        path = os.path.join(koji.pathinfo.work(), koji.pathinfo.taskrelpath(task_id), name)
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError:
            return None

    def cancel_task(self, task_id: int) -> None:
        self.hub.Task(task_id).cancel(recurse=True)

    def list_tasks(self, method: str, owner_id: Optional[int], states: Optional[Sequence[int]]) -> Sequence[Mapping[str, Any]]:
        opts: Dict[str, Any] = {"method": method, "decode": True}
        if owner_id is not None:
            opts["owner"] = owner_id
        if states is not None:
            opts["state"] = list(states)
        return self.context.handlers.call("listTasks", opts, {"order": "id"})

    def user_id(self, name: str) -> Optional[int]:
        user = self.hub.get_user(name)
        return user["id"] if user else None

    def topurl(self) -> str:
        return self._topurl or "file://" + koji.pathinfo.topdir
