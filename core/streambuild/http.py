"""A small JSON-over-HTTP client for forge APIs (Pagure, Forgejo), on the standard library.

What it does for every caller, so forge modules only speak their API:

* sends ``Authorization: token <TOKEN>`` (the scheme both Pagure's API 0 and Forgejo's
  API v1 document) when a token is given, and never shows the token anywhere;
* retries transport errors and ``5xx`` answers of idempotent requests (GET) with
  exponential backoff (a POST only when the connection was refused, so it cannot
  have arrived), and ``429 Too Many Requests`` after the ``Retry-After`` the
  server asks for (seconds or an HTTP date), up to a bound;
* never retries a POST that reached the server and failed with ``5xx``: the server
  may have acted on it (a second branch request would be a duplicate ticket);
* turns everything else into a :class:`~streambuild.errors.StreamBuildError` that says
  which service, which URL and what it answered: ``401``/``403`` are
  :class:`ForgeAuthError`, other ``4xx`` :class:`ForgeRequestError` (exit code 2),
  an unreachable or broken service (``5xx``, rate limits that outlast the retries,
  invalid JSON) :class:`ForgeUnavailable` (exit code 4).

``404`` is returned to the caller (``Response.status``) because its meaning depends
on the endpoint: a package that does not exist, a branch not created yet.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from . import __version__, values
from .errors import ForgeAuthError, ForgeRequestError, ForgeUnavailable, InputError


@dataclass(frozen=True)
class HttpSettings:
    """How patient the client is. Defaults suit a person at a terminal."""

    retries: int = 3  # further attempts after the first
    backoff: float = 1.0  # seconds before the first retry; doubled each time
    max_wait: float = 120.0  # the longest Retry-After honoured; a longer one fails at once
    timeout: float = 30.0  # per request, in seconds


@dataclass(frozen=True)
class Response:
    """One answer: status, headers (names lower-cased) and the parsed JSON body (None if empty)."""

    status: int
    headers: Mapping[str, str]
    data: Any
    url: str

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass(frozen=True)
class PreparedRequest:
    """A request as it would be sent, for ``--dry-run``: the token is shown as ``***``."""

    method: str
    url: str
    headers: Tuple[Tuple[str, str], ...]
    body: Optional[Any] = None

    def to_json(self) -> Dict[str, Any]:
        return {"method": self.method, "url": self.url, "headers": dict(self.headers), "body": self.body}

    def describe(self) -> str:
        lines = [f"{self.method} {self.url}"] + [f"{k}: {v}" for k, v in self.headers]
        if self.body is not None:
            lines += ["", json.dumps(self.body, indent=2, sort_keys=True)]
        return "\n".join(lines)


_RETRY_STATUSES = (500, 502, 503, 504)


@dataclass
class JsonClient:
    """Requests to one service's API, relative to ``base_url`` (``https://pagure.io/api/0/``).

    :param service: how the service is named in messages (``pagure at https://pagure.io``).
    :param token: the API token, or None for anonymous requests.
    :param sleep: how to wait between attempts (tests pass a recorder).
    """

    base_url: str
    service: str
    token: Optional[str] = field(default=None, repr=False)
    settings: HttpSettings = field(default_factory=HttpSettings)
    sleep: Callable[[float], None] = time.sleep

    def __post_init__(self) -> None:
        values.check_url(self.base_url, f"{self.service} URL", schemes=("https", "http"))
        self.base_url = values.as_base_url(self.base_url)
        if self.token is not None and any(ch in self.token for ch in "\r\n\x00"):
            raise InputError(f"the {self.service} token contains a line break or NUL; check its source")

    # -- building requests -----------------------------------------------------

    def url(self, path: str, query: Optional[Mapping[str, Any]] = None) -> str:
        """``base_url`` + ``path`` (each segment percent-quoted by the caller) + the query."""
        url = self.base_url + path.lstrip("/")
        if query:
            url += "?" + urllib.parse.urlencode([(k, str(v)) for k, v in query.items() if v is not None])
        return url

    def _headers(self, has_body: bool, show_token: bool) -> Tuple[Tuple[str, str], ...]:
        headers = [("Accept", "application/json"), ("User-Agent", f"stream-build/{__version__}")]
        if has_body:
            headers.append(("Content-Type", "application/json"))
        if self.token:
            headers.append(("Authorization", f"token {self.token if show_token else '***'}"))
        return tuple(headers)

    def prepare(self, method: str, path: str, query: Optional[Mapping[str, Any]] = None,
                body: Optional[Any] = None) -> PreparedRequest:
        """The request :meth:`request` would send, with the token hidden."""
        return PreparedRequest(method, self.url(path, query), self._headers(body is not None, False), body)

    # -- sending ---------------------------------------------------------------

    def get(self, path: str, query: Optional[Mapping[str, Any]] = None, ok: Sequence[int] = (200,)) -> Response:
        return self.request("GET", path, query, ok=ok)

    def post(self, path: str, body: Any, ok: Sequence[int] = (200, 201)) -> Response:
        return self.request("POST", path, body=body, ok=ok)

    def request(self, method: str, path: str, query: Optional[Mapping[str, Any]] = None,
                body: Optional[Any] = None, ok: Sequence[int] = (200,)) -> Response:
        """Send one request (retrying as the module docstring says) and return the answer.

        Statuses in ``ok`` and ``404`` are returned; anything else raises.
        """
        url = self.url(path, query)
        data = json.dumps(body).encode() if body is not None else None
        headers = dict(self._headers(data is not None, True))
        idempotent = method in ("GET", "HEAD")
        attempt = 0
        while True:
            attempt += 1
            last_try = attempt > self.settings.retries
            try:
                status, reply_headers, raw = self._send(method, url, headers, data)
            except _TransportError as exc:
                if last_try or not (idempotent or exc.refused):
                    raise ForgeUnavailable(f"cannot reach {self.service} at {url}: {exc} "
                                           f"(tried {attempt} times)") from None
                self.sleep(self._backoff(attempt))
                continue
            if status == 429:
                wait = _retry_after(reply_headers.get("retry-after", ""), self._backoff(attempt))
                if wait > self.settings.max_wait:
                    raise ForgeUnavailable(f"{self.service} is rate-limiting requests to {url} and asks to wait "
                                           f"{wait:.0f} s (longer than the {self.settings.max_wait:.0f} s allowed); "
                                           "try again later")
                if last_try:
                    raise ForgeUnavailable(f"{self.service} kept answering 429 Too Many Requests for {url} "
                                           f"after {attempt} attempts; try again later")
                self.sleep(wait)
                continue
            if status in _RETRY_STATUSES or status >= 500:
                if idempotent and not last_try:
                    self.sleep(self._backoff(attempt))
                    continue
                tries = f" after {attempt} attempts" if idempotent and attempt > 1 else ""
                raise ForgeUnavailable(f"{self.service} answered {status} {_reason(raw)} for {method} {url}{tries}")
            return self._answer(method, url, status, reply_headers, raw, ok)

    def _answer(self, method: str, url: str, status: int, headers: Dict[str, str], raw: bytes,
                ok: Sequence[int]) -> Response:
        if status in ok or status == 404:
            parsed: Any = None
            if raw.strip():
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    if status == 404:
                        parsed = None  # some proxies answer 404 in HTML; the status says enough
                    else:
                        raise ForgeUnavailable(f"{self.service} answered {method} {url} with something that is not "
                                               f"JSON ({_snippet(raw)}); is the URL the API of a {self.service}?") from None
            return Response(status, headers, parsed, url)
        message = _reason(raw)
        if status == 401:
            raise ForgeAuthError(f"{self.service} refused the token for {method} {url} (401: {message}); "
                                 "set a valid token in the config file or its environment variable")
        if status == 403:
            raise ForgeAuthError(f"{self.service} does not allow this to the token's user: {method} {url} "
                                 f"(403: {message})")
        raise ForgeRequestError(f"{self.service} refused {method} {url} ({status}: {message})")

    def _backoff(self, attempt: int) -> float:
        return float(self.settings.backoff * (2 ** (attempt - 1)))

    def _send(self, method: str, url: str, headers: Mapping[str, str],
              data: Optional[bytes]) -> Tuple[int, Dict[str, str], bytes]:
        request = urllib.request.Request(url, data=data, method=method, headers=dict(headers))
        try:
            with _OPENER.open(request, timeout=self.settings.timeout) as reply:
                return reply.status, _lower(reply.headers.items()), reply.read()
        except urllib.error.HTTPError as exc:
            try:
                body = exc.read()
            except OSError:
                body = b""
            return exc.code, _lower(exc.headers.items() if exc.headers else []), body
        except (urllib.error.URLError, socket.timeout, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise _TransportError(str(reason), isinstance(reason, ConnectionRefusedError)) from None


class _TransportError(Exception):
    """No answer. ``refused``: the request cannot have reached the server, so even a POST may be retried."""

    def __init__(self, message: str, refused: bool) -> None:
        super().__init__(message)
        self.refused = refused


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are not followed: a POST must not silently become a GET elsewhere,
    and a token must never be sent on to another host."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def _lower(items: Any) -> Dict[str, str]:
    return {str(k).lower(): str(v) for k, v in items}


def _retry_after(value: str, default: float) -> float:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    value = value.strip()
    if not value:
        return default
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def _snippet(raw: bytes, limit: int = 80) -> str:
    text = raw.decode("utf-8", "replace").strip().replace("\n", " ")
    return repr(text[:limit] + ("…" if len(text) > limit else ""))


def _reason(raw: bytes) -> str:
    """The error message of a JSON error body (Pagure: ``error``; Forgejo: ``message``), else a snippet."""
    try:
        data = json.loads(raw)
    except ValueError:
        return _snippet(raw) if raw.strip() else "no message"
    if isinstance(data, dict):
        for key in ("error", "message"):
            if isinstance(data.get(key), str) and data[key]:
                code = data.get("error_code")
                return f"{data[key]} [{code}]" if isinstance(code, str) else data[key]
    return _snippet(raw)


# -- bounded downloads -----------------------------------------------------------------


@dataclass(frozen=True)
class DownloadLimits:
    """How long and how large one download may be.

    A download must finish within ``deadline`` seconds plus one second per ``min_rate``
    bytes received: a server that stalls or drips a byte now and then fails after about
    ``deadline`` seconds, while a large file that keeps arriving at ``min_rate`` or more
    never does. Each read waits at most ``read_timeout``. A body larger than ``max_bytes``
    (by its ``Content-Length``, or as it arrives) is refused.

    The defaults can be changed with the environment variables named in :data:`ENVIRONMENT`.
    """

    deadline: float = 90.0
    min_rate: int = 16 * 1024
    max_bytes: int = 1024 ** 3
    read_timeout: float = 30.0

    def allowed(self, received: int) -> float:
        return self.deadline + received / self.min_rate if self.min_rate > 0 else float("inf")

    @classmethod
    def from_environment(cls, env: Optional[Mapping[str, str]] = None) -> "DownloadLimits":
        """The defaults, with what ``STREAM_BUILD_DOWNLOAD_*`` variables say; a bad value is an InputError."""
        env = os.environ if env is None else env
        changes: Dict[str, Any] = {}
        for field_name, (variable, kind) in ENVIRONMENT.items():
            text = env.get(variable, "").strip()
            if not text:
                continue
            try:
                value = kind(text)
            except ValueError:
                value = -1
            if value < 0 or (kind is float and value != value):
                raise InputError(f"{variable}={text!r} must be a non-negative number")
            changes[field_name] = value
        return cls(**changes)


#: DownloadLimits field -> (environment variable, type).
ENVIRONMENT: Dict[str, Tuple[str, Any]] = {
    "deadline": ("STREAM_BUILD_DOWNLOAD_DEADLINE", float),
    "min_rate": ("STREAM_BUILD_DOWNLOAD_MIN_RATE", int),
    "max_bytes": ("STREAM_BUILD_DOWNLOAD_MAX_BYTES", int),
    "read_timeout": ("STREAM_BUILD_DOWNLOAD_READ_TIMEOUT", float),
}


class DownloadFailed(Exception):
    """Why a download stopped: the caller turns it into its own error, naming what it was downloading."""


class _Watched:
    """The connections of one download, so that a watchdog can cut them at the deadline."""

    def __init__(self) -> None:
        self.connections: List[Any] = []
        self.lock = threading.Lock()
        self.cut = False

    def record(self, factory: Any) -> Any:
        def make(*args: Any, **kwargs: Any) -> Any:
            connection = factory(*args, **kwargs)
            with self.lock:
                self.connections.append(connection)
                if self.cut:
                    connection.close()
            return connection

        return make

    def cut_all(self) -> None:
        with self.lock:
            self.cut = True
            for connection in self.connections:
                sock = getattr(connection, "sock", None)
                if sock is not None:
                    try:
                        sock.shutdown(socket.SHUT_RDWR)  # wakes a read blocked in another thread
                    except OSError:
                        pass


class _WatchedHTTP(urllib.request.HTTPHandler):
    def __init__(self, watched: _Watched) -> None:
        super().__init__()
        self.watched = watched

    def http_open(self, req: Any) -> Any:
        return self.do_open(self.watched.record(http.client.HTTPConnection), req)


class _WatchedHTTPS(urllib.request.HTTPSHandler):
    def __init__(self, watched: _Watched) -> None:
        super().__init__()
        self.watched = watched

    def https_open(self, req: Any) -> Any:
        return self.do_open(self.watched.record(http.client.HTTPSConnection), req,
                            context=self._context)  # type: ignore[attr-defined]


def download(url: str, out: Any, limits: DownloadLimits, on_block: Optional[Callable[[bytes], None]] = None) -> int:
    """Copy the body at ``url`` (http, https or file) into the binary file ``out``; return its size.

    Raises :class:`DownloadFailed` saying why (too slow, too large, an HTTP status, a
    transport error). Errors of writing ``out`` (a full disk) are raised as they are.
    """
    watched = _Watched()
    opener = urllib.request.build_opener(_WatchedHTTP(watched), _WatchedHTTPS(watched))
    start = time.monotonic()
    received = 0
    done = threading.Event()
    too_slow = threading.Event()

    def watchdog() -> None:
        while not done.wait(0.25):
            if time.monotonic() - start > limits.allowed(received):
                too_slow.set()
                watched.cut_all()
                return

    def slow() -> DownloadFailed:
        return DownloadFailed(f"took longer than allowed: {received} bytes in {time.monotonic() - start:.1f} s "
                              f"(a download may take {limits.deadline:g} s, plus 1 s per {limits.min_rate} bytes "
                              f"received; {ENVIRONMENT['deadline'][0]} and {ENVIRONMENT['min_rate'][0]} change this)")

    def network(step: Callable[[], Any]) -> Any:
        """Run one network step; whatever goes wrong in it is a DownloadFailed."""
        try:
            result = step()
        except urllib.error.HTTPError as exc:
            raise DownloadFailed(f"answered {exc.code} {exc.reason}") from None
        except (http.client.HTTPException, OSError, ValueError) as exc:  # URLError, timeouts, resets
            # the watchdog cut it, or the socket's own timeout came first once the time allowed was up
            if too_slow.is_set() or time.monotonic() - start >= limits.allowed(received):
                raise slow() from None
            raise DownloadFailed(f"failed: {getattr(exc, 'reason', None) or exc}") from None
        if too_slow.is_set():
            raise slow()
        return result

    threading.Thread(target=watchdog, name="download-watchdog", daemon=True).start()
    try:
        timeout = max(1.0, min(limits.read_timeout, limits.deadline))
        response = network(lambda: opener.open(url, timeout=timeout))
        with response:
            length = (response.headers.get("Content-Length") or "").strip()
            if length.isdigit() and int(length) > limits.max_bytes:
                raise DownloadFailed(f"is {int(length)} bytes (Content-Length), more than the {limits.max_bytes} "
                                     f"allowed ({ENVIRONMENT['max_bytes'][0]} changes this)")
            read = getattr(response, "read1", response.read)
            while True:
                block = network(lambda: read(1 << 16))
                if not block:
                    return received
                received += len(block)
                if received > limits.max_bytes:
                    raise DownloadFailed(f"sent more than the {limits.max_bytes} bytes allowed "
                                         f"({ENVIRONMENT['max_bytes'][0]} changes this)")
                if on_block is not None:
                    on_block(block)
                out.write(block)
    finally:
        done.set()
