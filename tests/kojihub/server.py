"""The test hub's HTTP side: Koji's XML-RPC endpoint, uploads, GSSAPI login, files, faults.

- ``POST /kojihub``: XML-RPC as kojixmlrpc.py does it: koji's marshalling
  (``koji.xmlrpcplus``, ``allow_none``), ``__starstar`` keyword arguments decoded with
  ``koji.decode_args`` and checked with ``koji.util.call_with_argcheck``, exceptions turned
  into faults with the exception class's ``faultCode``, ``multiCall`` answering a list of
  singleton lists or fault structs, the ``Koji-Version`` header, sessions in the
  ``Koji-Session-Id/Key/Callnum`` headers with kojihub/auth.py's call-number rules
  (a replayed call number is a ``RetryError``, an older one a ``SequenceError``).
- ``POST /kojihub?filename=...&filepath=...&offset=...``: ``rawUpload`` chunks (fastUpload).
- ``POST /kojihub/ssllogin``: as mod_auth_gssapi in front of the hub: without an
  ``Authorization: Negotiate`` header the answer is ``401`` with
  ``WWW-Authenticate: Negotiate``; the token is accepted with python-gssapi against the
  hub's keytab and the initiator's principal becomes ``REMOTE_USER`` for ``sslLogin``.
- ``GET /kojifiles/...``: the hub's top directory (``topurl``).

Faults are injected per method name: ``drop`` closes the connection without an answer,
``503`` answers Service Unavailable; ``before`` the call runs or ``after`` it ran.
"""

from __future__ import annotations

import base64
import os
import socket
import ssl
import sys
import threading
import traceback
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

import koji
import koji.util
import koji.xmlrpcplus
from koji.context import context

from .state import RETRY_WHITELIST, Hub, Session

HUB_PATH = "/kojihub"
FILES_PATH = "/kojifiles"


@dataclass
class Fault:
    method: str
    action: str  # "drop" or "503"
    when: str  # "before" or "after"
    times: int = 1
    skip: int = 0  # let this many matching calls through first


class Handlers:
    """``context.handlers``: kojihub's HandlerAccess (plugins call other exports through it)."""

    def __init__(self, funcs: Dict[str, Callable[..., Any]]) -> None:
        self.funcs = funcs

    def get(self, name: str) -> Callable[..., Any]:
        func = self.funcs.get(name)
        if func is None:
            raise koji.GenericError("Invalid method: %s" % name)
        return func

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        return self.get(name)(*args, **kwargs)


class HubServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: Tuple[str, int], hub: Hub, funcs: Dict[str, Callable[..., Any]],
                 keytab: Optional[str] = None) -> None:
        super().__init__(address, RequestHandler)
        self.hub = hub
        self.funcs = funcs
        self.keytab = keytab
        self.faults: List[Fault] = []
        self.http_requests: Dict[str, int] = {}  # user name (or "anonymous") -> HTTP requests
        self.session_requests: Dict[int, int] = {}  # session id -> HTTP requests (the login included)
        self.stats_lock = threading.Lock()
        self.server_errors: List[str] = []

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, ssl.SSLError, TimeoutError)):
            return  # a client that went away (or a dropped connection we injected)
        super().handle_error(request, client_address)

    def fault_for(self, method: str, when: str) -> Optional[Fault]:
        with self.stats_lock:
            for fault in self.faults:
                if fault.method == method and fault.when == when and fault.times > 0:
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    fault.times -= 1
                    return fault
        return None


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: HubServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
        pass

    def setup(self) -> None:
        super().setup()
        # headers and body go out in separate writes: without this, Nagle and delayed ACKs cost 40 ms a call
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- files --------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = unquote(urlsplit(self.path).path)
        if not path.startswith(FILES_PATH + "/"):
            return self._plain(404, b"not found")
        rel = path[len(FILES_PATH) + 1:]
        if ".." in rel.split("/"):
            return self._plain(403, b"forbidden")
        full = os.path.join(self.server.hub.topdir, rel)
        if not os.path.isfile(full):
            return self._plain(404, b"not found")
        with open(full, "rb") as handle:
            data = handle.read()
        self._plain(200, data, "application/octet-stream")

    def _plain(self, code: int, body: bytes, kind: str = "text/plain", headers: Tuple[Tuple[str, str], ...] = ()) -> None:
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Koji-Version", "1.36.1")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    # -- XML-RPC ------------------------------------------------------------------------

    def do_POST(self) -> None:
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if parts.path not in (HUB_PATH, HUB_PATH + "/ssllogin"):
            return self._plain(404, b"not found")
        environ: Dict[str, Any] = {"REMOTE_ADDR": self.client_address[0]}
        reply_headers: Tuple[Tuple[str, str], ...] = ()
        if parts.path.endswith("/ssllogin"):
            verdict = self._negotiate()
            if verdict is None:
                return
            environ["REMOTE_USER"], reply_headers = verdict
        query = parse_qs(parts.query)
        if "filename" in query:
            method, params = "rawUpload", None
        else:
            try:
                params, method = koji.xmlrpcplus.loads(body)
            except Exception as exc:  # noqa: BLE001
                return self._plain(400, f"Invalid request: {exc}".encode())
        fault = self.server.fault_for(method, "before")
        if fault is not None:
            return self._inject(fault)
        if method == "rawUpload":
            response = self._upload(query, body, environ)
        else:
            response = self._rpc(method, params, environ)
        fault = self.server.fault_for(method, "after")
        if fault is not None:
            return self._inject(fault)
        self._plain(200, response, "text/xml", reply_headers)

    def _inject(self, fault: Fault) -> None:
        if fault.action == "503":
            return self._plain(503, b"Service Unavailable")
        self.close_connection = True  # drop: no answer at all
        try:
            self.connection.shutdown(2)
        except OSError:
            pass

    def _negotiate(self) -> Optional[Tuple[str, Tuple[Tuple[str, str], ...]]]:
        """mod_auth_gssapi: accept the SPNEGO token, or answer 401 asking for one."""
        import gssapi

        header = self.headers.get("Authorization", "")
        if not header.startswith("Negotiate ") or not self.server.keytab:
            self._plain(401, b"Unauthorized", headers=(("WWW-Authenticate", "Negotiate"),))
            return None
        try:
            creds = gssapi.Credentials(usage="accept", store={"keytab": self.server.keytab})
            ctx = gssapi.SecurityContext(creds=creds, usage="accept")
            out = ctx.step(base64.b64decode(header[len("Negotiate "):]))
            if not ctx.complete:
                raise gssapi.exceptions.GSSError(0, 0)
            principal = str(ctx.initiator_name)
        except Exception as exc:  # noqa: BLE001 - any failure is a refusal
            self.server.server_errors.append(f"gssapi: {exc}")
            self._plain(401, b"Unauthorized", headers=(("WWW-Authenticate", "Negotiate"),))
            return None
        headers = (("WWW-Authenticate", "Negotiate " + base64.b64encode(out).decode()),) if out else ()
        return principal, headers

    def _session(self, method: str) -> Tuple[Session, Optional[Dict[str, Any]]]:
        hub = self.server.hub
        sid = self.headers.get("Koji-Session-Id")
        if not sid:
            return Session(hub), None
        record = hub.sessions.get(int(sid))
        if record is None or record.get("closed") or record["key"] != self.headers.get("Koji-Session-Key"):
            raise koji.AuthError("Invalid session or bad credentials")
        callnum = int(self.headers.get("Koji-Session-Callnum"))
        last = record["callnum"]
        if last is not None:
            if last > callnum:
                raise koji.SequenceError("%d > %d (session %s)" % (last, callnum, record["id"]))
            if last == callnum and method not in RETRY_WHITELIST:
                raise koji.RetryError("unable to retry call %s (method %s) for session %s" % (callnum, method, record["id"]))
        return Session(hub, record["id"], record["key"], record["user_id"], callnum, record["authtype"]), record

    def _count(self, user: Optional[int], session_id: Optional[int] = None) -> None:
        name = self.server.hub.users[user]["name"] if user else "anonymous"
        with self.server.stats_lock:
            self.server.http_requests[name] = self.server.http_requests.get(name, 0) + 1
            if session_id is not None:
                self.server.session_requests[session_id] = self.server.session_requests.get(session_id, 0) + 1

    def _rpc(self, method: str, params: Any, environ: Dict[str, Any]) -> bytes:
        hub = self.server.hub
        with hub.lock:
            try:
                session, record = self._session(method)
            except koji.GenericError as exc:
                self._count(None)
                return koji.xmlrpcplus.dumps(koji.xmlrpcplus.Fault(exc.faultCode, str(exc))).encode()
            self._count(session.user_id, session.id)
            context.session, context.environ, context.method = session, environ, method
            context.handlers = Handlers(self.server.funcs)
            try:
                if method in ("multiCall", "system.multicall"):
                    result = self._multicall(params[0] if params else [])
                else:
                    result = self._dispatch(method, params)
                response = koji.xmlrpcplus.dumps((result,), methodresponse=1, allow_none=1)
            except koji.xmlrpcplus.Fault as fault:
                response = koji.xmlrpcplus.dumps(fault, allow_none=1)
            except Exception as exc:  # noqa: BLE001
                response = koji.xmlrpcplus.dumps(self._fault(exc), allow_none=1)
            finally:
                if record is not None and hub.sessions.get(record["id"]) is record:
                    record["callnum"] = session.callnum
                context._threadclear()
        return response.encode()

    def _fault(self, exc: BaseException) -> koji.xmlrpcplus.Fault:
        if isinstance(exc, koji.GenericError):
            return koji.xmlrpcplus.Fault(exc.faultCode, str(exc))
        self.server.server_errors.append(traceback.format_exc())
        sys.stderr.write(traceback.format_exc())
        return koji.xmlrpcplus.Fault(getattr(type(exc), "faultCode", 1), "%s: %s" % (type(exc), exc))

    def _dispatch(self, method: str, params: Any) -> Any:
        func = self.server.funcs.get(method)
        if func is None:
            raise koji.GenericError("Invalid method: %s" % method)
        hub = self.server.hub
        hub.counts[method] = hub.counts.get(method, 0) + 1
        args, opts = koji.decode_args(*params)
        return koji.util.call_with_argcheck(func, args, opts)

    def _multicall(self, calls: List[Dict[str, Any]]) -> List[Any]:
        hub = self.server.hub
        hub.counts["multiCall"] = hub.counts.get("multiCall", 0) + 1
        results: List[Any] = []
        for call in calls:
            try:
                results.append([self._dispatch(call["methodName"], call["params"])])
            except koji.xmlrpcplus.Fault as fault:
                results.append({"faultCode": fault.faultCode, "faultString": fault.faultString})
            except Exception as exc:  # noqa: BLE001
                fault = self._fault(exc)
                results.append({"faultCode": fault.faultCode, "faultString": fault.faultString})
        return results

    def _upload(self, query: Dict[str, List[str]], body: bytes, environ: Dict[str, Any]) -> bytes:
        hub = self.server.hub
        with hub.lock:
            try:
                session, record = self._session("rawUpload")
                self._count(session.user_id, session.id)
                context.session, context.environ = session, environ
                api = self.server.funcs["checkUpload"].__self__
                offset = int(query.get("offset", ["0"])[0])
                result = api.raw_upload(body, query["filepath"][0], query["filename"][0], offset,
                                        query.get("overwrite", ["0"])[0] == "1")
                if record is not None:
                    record["callnum"] = session.callnum
                hub.counts["rawUpload"] = hub.counts.get("rawUpload", 0) + 1
                response = koji.xmlrpcplus.dumps((result,), methodresponse=1, allow_none=1)
            except Exception as exc:  # noqa: BLE001
                response = koji.xmlrpcplus.dumps(self._fault(exc), allow_none=1)
            finally:
                context._threadclear()
        return response.encode()


def serve(server: HubServer, tls: Optional[Tuple[str, str]] = None) -> threading.Thread:
    if tls is not None:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(*tls)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="test-hub", daemon=True)
    thread.start()
    return thread
