"""What every fake server here shares: an HTTP server on 127.0.0.1 on a free port, served by a daemon thread,
usable with `with`. A fake sets `self._http = LocalServer(handler_class)` and mixes in `Served`.

    class FakeThing(Served):
        def __init__(self) -> None:
            self._http = LocalServer(self._handler_class())
    with FakeThing() as fake:
        requests.get(fake.url + "/path")
"""
from __future__ import annotations

import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

T = TypeVar("T", bound="Served")


class QuietServer(ThreadingHTTPServer):
    """A test server that does not print the tracebacks of callers that hung up."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a caller that timed out and hung up
            super().handle_error(request, client_address)


class QuietHandler(BaseHTTPRequestHandler):
    """A fake's request handler: nothing on the test output per request; `respond` writes one whole answer."""

    def respond(self, status: int, data: bytes, content_type: str = "",
                headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if content_type:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class LocalServer:
    def __init__(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = QuietServer(("127.0.0.1", 0), handler)
        # A short poll: stop() waits for it (0.5 s by default, once per test that resets a server).
        self._thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02},
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():  # shutdown() would wait forever for a loop never started
            self.server.shutdown()
        self.server.server_close()


class Served:
    """start / stop / close / `with` and the base URL of a fake whose `_http` is a LocalServer."""

    _http: LocalServer

    @property
    def url(self) -> str:
        return self._http.url

    base_url = url

    def start(self: T) -> T:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    close = stop

    def __enter__(self: T) -> T:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
