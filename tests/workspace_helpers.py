"""Helpers for the workspace tests (issue 15): operator tokens and a local
HTTP endpoint that apprise's json:// posts to."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from hiscrm.v1 import control_pb2
from tests.harness import Cluster


def operator_token(cluster: Cluster, name: str, role: int = control_pb2.ROLE_AGENT) -> str:
    resp = cluster.call("CreateToken", control_pb2.CreateTokenRequest(name=name, role=role))
    return resp.secret  # type: ignore[attr-defined, no-any-return]


def call_as(cluster: Cluster, secret: str, method: str, request: object) -> Any:
    return getattr(cluster.control(), method)(
        request, metadata=[("authorization", f"Bearer {secret}")], timeout=30
    )


def stream_as(cluster: Cluster, secret: str, method: str, request: object) -> list[Any]:
    return list(
        getattr(cluster.control(), method)(
            request, metadata=[("authorization", f"Bearer {secret}")], timeout=60
        )
    )


@dataclass
class Hook:
    """What the endpoint received: one dict per POST (apprise's JSON body)."""

    port: int
    posts: list[dict[str, Any]] = field(default_factory=list)
    auth: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [line for p in self.posts for line in str(p.get("message", "")).splitlines()]


@contextmanager
def webhook() -> Iterator[Hook]:
    hook = Hook(port=0)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with lock:
                hook.posts.append(json.loads(body or b"{}"))
                hook.auth.append(self.headers.get("Authorization", ""))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    hook.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield hook
    finally:
        server.shutdown()
        server.server_close()
