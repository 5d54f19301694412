"""What several test files need: the test model, free ports, waiting for a server, and a static
fixture site served on 127.0.0.1 (with a few misbehaving paths for the fetcher's tests)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

TEST_MODEL = "llamacpp:smollm2-135m"
SITE = Path(__file__).parent / "data" / "site"
REPO = Path(__file__).resolve().parents[1]
# Two short shipped documents: a corpus that indexes in seconds.
SMALL_DOCS = ("etcentric-meta-spotify-statement", "llama-3.2-acceptable-use-policy")


def small_manifest(folder: Path) -> Path:
    """The shipped manifest cut to SMALL_DOCS, with their files beside it in `folder`."""
    text = (REPO / "index" / "sources.toml").read_text(encoding="utf-8")
    entries = [e.split("[[linked]]")[0] for e in text.split("[[document]]")[1:]]
    kept = [e for e in entries if any(f'doc_id = "{d}"' in e for d in SMALL_DOCS)]
    assert len(kept) == 2
    (folder / "documents").mkdir(parents=True)
    for e in kept:
        name = e.split('file = "')[1].split('"')[0]
        shutil.copyfile(REPO / "index" / name, folder / name)
    manifest = folder / "sources.toml"
    manifest.write_text("".join("[[document]]" + e for e in kept), encoding="utf-8")
    return manifest


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released): for a server to start on, or
    for a host that refuses connections."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until_answers(
    url: str, timeout_s: float, proc: subprocess.Popen[bytes] | None = None, every_s: float = 0.3
) -> bool:
    """Poll `url` until it answers (any HTTP status below 500), `timeout_s` passes or `proc`
    exits; True if it answered."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and (proc is None or proc.poll() is None):
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except urllib.error.HTTPError as e:
            if e.code < 500:
                return True
        except OSError:
            pass
        time.sleep(every_s)
    return False


# -- a static site on 127.0.0.1 ------------------------------------------------------------------


@dataclass
class Server:
    base: str
    requests: list[tuple[float, str]]
    stop: Callable[[], None]

    def paths(self) -> list[str]:
        return [p for _, p in self.requests]


class _Handler(SimpleHTTPRequestHandler):
    server_log: list[tuple[float, str]]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        self.server_log.append((time.monotonic(), self.path))
        if self.path == "/slow":
            time.sleep(1.5)
            return self._send(b"<html><body><p>late</p></body></html>")
        if self.path == "/big-streamed":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b"x" * 65536)
            except (BrokenPipeError, ConnectionResetError):
                pass
            return None
        if self.path == "/big-declared":
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(50_000_000))
            self.end_headers()
            return None
        if self.path in ("/moved", "/to-private"):
            target = {"/moved": "/linked/open-weights-charter.html?utm_source=redirect",
                      "/to-private": "/private/draft-response.html"}[self.path]
            self.send_response(301)
            self.send_header("Location", target)
            self.end_headers()
            return None
        if self.path == "/to-ftp":
            self.send_response(302)
            self.send_header("Location", "ftp://127.0.0.1/file.txt")
            self.end_headers()
            return None
        return super().do_GET()

    def _send(self, body: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (the timeout test)


@contextmanager
def serve(root: Path) -> Iterator[Server]:
    """Serve `root` on 127.0.0.1 (a free port) in a thread; stop it with `server.stop()`."""
    log: list[tuple[float, str]] = []
    handler = type("Handler", (_Handler,), {"server_log": log})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), partial(handler, directory=str(root)))
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    stopped = False

    def stop() -> None:
        nonlocal stopped
        if not stopped:
            httpd.shutdown()
            httpd.server_close()
            stopped = True

    server = Server(f"http://127.0.0.1:{httpd.server_address[1]}", log, stop)
    try:
        yield server
    finally:
        stop()
