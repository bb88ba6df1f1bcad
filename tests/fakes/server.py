"""A small threaded HTTP server on 127.0.0.1 with failure injection, for provider fakes.

A fake subclasses :class:`FakeServer` and implements :meth:`FakeServer.route`.
Tests inject faults: an error status N times (before or after the request is
processed, the latter modelling an answer lost on the way back) or a delay
longer than the client's read timeout.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Fault:
    """Answer ``status`` (after ``delay`` seconds) to the next ``times`` matching requests."""

    path_prefix: str
    method: str | None = None
    status: int = 500
    times: int = 1
    delay: float = 0.0
    after_processing: bool = False
    body: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeServer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``base_url`` is on 127.0.0.1."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.faults: list[Fault] = []
        self.requests: list[Recorded] = []
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle

    def start(self) -> FakeServer:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                return

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                reply = fake.dispatch(
                    Recorded(
                        self.command,
                        parts.path,
                        parts.query,
                        {k.lower(): v for k, v in self.headers.items()},
                        body,
                    )
                )
                payload = b"" if reply.body is None else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    if payload:
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    self.close_connection = True

            do_GET = do_POST = do_DELETE = do_PATCH = _serve

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                return  # a client that gave up (timeout test) is not an error

        self._server = Server(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.01,), daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # faults

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self.faults.append(fault)

    def _take_fault(self, request: Recorded) -> Fault | None:
        with self.lock:
            for fault in self.faults:
                if (
                    fault.times > 0
                    and request.path.startswith(fault.path_prefix)
                    and fault.method in (None, request.method)
                ):
                    fault.times -= 1
                    return fault
        return None

    def calls(self, method: str, path_prefix: str) -> list[Recorded]:
        with self.lock:
            return [
                r for r in self.requests if r.method == method and r.path.startswith(path_prefix)
            ]

    # dispatch

    def dispatch(self, request: Recorded) -> Reply:
        with self.lock:
            self.requests.append(request)
        fault = self._take_fault(request)
        if fault is not None and fault.delay:
            self._stopping.wait(fault.delay)
        if fault is not None and not fault.after_processing:
            return Reply(fault.status, fault.body or self.error_body(fault.status))
        with self.lock:
            reply = self.route(request)
        if fault is not None:
            return Reply(fault.status, fault.body or self.error_body(fault.status))
        return reply

    def route(self, request: Recorded) -> Reply:
        raise NotImplementedError

    def error_body(self, status: int) -> dict[str, Any]:
        return {"error": f"injected {status}"}
