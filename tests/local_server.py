"""A small HTTP server on 127.0.0.1 for the download tests (never the internet): serves given bytes by URL path,
records every GET, cuts the connection short for paths under ``/cut/`` (fewer bytes than announced), and answers
the first GET of each path under ``/flaky/`` with 503 Service Unavailable (a transient failure; later GETs succeed)."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator


class FileHandler(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    gets: list[str] = []
    PREFIXES = ("/cut", "/flaky")

    def log_message(self, *args):  # keep the test output clean
        pass

    def _head(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Disposition", 'attachment; filename="../../evil.h5"')  # must be ignored
        self.end_headers()

    def _body(self, path: str) -> bytes | None:
        """The file served at ``path`` (its ``/cut`` or ``/flaky`` prefix taken off), None when there is none."""
        for prefix in self.PREFIXES:
            if path.startswith(prefix + "/"):
                path = path.removeprefix(prefix)
                break
        return self.files.get(path)

    def do_HEAD(self):
        body = self._body(self.path.split("?")[0])
        if body is None:
            self.send_error(404)
            return
        self._head(body)

    def do_GET(self):
        path = self.path.split("?")[0]
        self.gets.append(path)
        cut = path.startswith("/cut/")
        body = self._body(path)
        if body is None:
            self.send_error(404)
            return
        if path.startswith("/flaky/") and self.gets.count(path) == 1:
            self.send_error(503)  # the first request of this path fails; a retry gets the file
            return
        self._head(body)
        self.wfile.write(body[: len(body) // 3] if cut else body)  # a cut connection: fewer bytes than announced
        self.wfile.flush()
        self.close_connection = True


@contextmanager
def serving(files: dict[str, bytes], monkeypatch) -> Iterator[str]:
    """Serve ``files`` (URL path -> bytes) on 127.0.0.1 while the block runs; yields the base URL. Proxies are
    bypassed for it (``monkeypatch`` sets ``NO_PROXY``)."""
    FileHandler.files, FileHandler.gets = dict(files), []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FileHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
