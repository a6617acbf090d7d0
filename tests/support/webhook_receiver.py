"""A referrer's webhook endpoint, for tests: a real HTTP server on loopback that records every
request and can be told to fail or to hang, like a referrer's system having a bad day."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    """One request as the receiver saw it."""

    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes
    answered: int
    at: float


@dataclass
class WebhookReceiver:
    """Answers 200 unless `failing` (then `fail_status`); sleeps `hang_seconds` first if set."""

    port: int = 0
    failing: bool = False
    fail_status: int = 503
    hang_seconds: float = 0.0
    requests: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                expected = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(expected)
                if receiver.hang_seconds:
                    time.sleep(receiver.hang_seconds)
                code = receiver.fail_status if receiver.failing else 200
                if len(body) < expected:
                    code = 400  # the sender died mid-request: a real endpoint refuses a torn body
                with receiver._lock:
                    receiver.requests.append(
                        Received(
                            self.path,
                            {k.lower(): v for k, v in self.headers.items()},
                            body,
                            code,
                            time.monotonic(),
                        )
                    )
                try:
                    self.send_response(code)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:
                    pass  # the hub gave up waiting: exactly what a hanging endpoint causes

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def accepted(self) -> list[Received]:
        """Requests answered 2xx, in the order they arrived."""
        with self._lock:
            return [r for r in self.requests if 200 <= r.answered < 300]
