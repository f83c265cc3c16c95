"""Fixtures shared by the core and plugin tests: a weights server on 127.0.0.1, a fresh cache."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest


@dataclass
class WeightsServer:
    """Files under ``root`` served at ``url``; ``requests`` lists the paths asked for.

    ``/redirect/<path>`` answers 302 to ``/<path>`` (as the Hugging Face Hub
    redirects to its CDN); ``/short/<path>`` announces the full length of
    ``<path>`` and sends only half of it, then closes.
    """

    root: Path
    url: str
    requests: list[str] = field(default_factory=list)

    def put(self, path: str, data: bytes) -> Path:
        target = self.root / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        return target


@pytest.fixture
def weights_server(tmp_path: Path) -> Iterator[WeightsServer]:
    root = tmp_path / "www"
    root.mkdir()
    server_state = WeightsServer(root, "")

    class Handler(SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, directory=str(root), **kwargs)

        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            server_state.requests.append(self.path)
            if self.path.startswith("/redirect/"):
                self.send_response(302)
                self.send_header("Location", self.path.removeprefix("/redirect"))
                self.end_headers()
            elif self.path.startswith("/short/"):
                data = (root / self.path.removeprefix("/short/")).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2])
                self.close_connection = True
            else:
                super().do_GET()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    server_state.url = f"http://127.0.0.1:{server.server_port}"
    try:
        yield server_state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def lucid_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ``$LUCID_HOME``, online, without a mirror."""
    home = tmp_path / "lucid_home"
    monkeypatch.setenv("LUCID_HOME", str(home))
    monkeypatch.delenv("LUCID_OFFLINE", raising=False)
    monkeypatch.delenv("LUCID_WEIGHTS_MIRROR", raising=False)
    return home
