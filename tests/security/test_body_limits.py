"""Body size limits hold for chunked requests too (no Content-Length), on every route that takes a
body, against the real stack; a chunked body within the limit still works."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import httpx
import pytest

from connectors.gateway.app import create_app
from connectors.gateway.settings import Settings
from tools.stack import Stack

SETTINGS = Settings()


def body_routes() -> list[tuple[str, str]]:
    spec = create_app(SETTINGS).openapi()
    return [(method.upper(), path.replace("{", "").replace("}", "") )
            for path, ops in spec["paths"].items() for method in ops if method in ("post", "put")]


def chunks(total: int, size: int = 16 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"x" * piece


@pytest.mark.parametrize(("method", "path"), body_routes())
def test_a_chunked_body_over_the_limit_is_413(stack: Stack, method: str, path: str) -> None:
    limit = SETTINGS.kb_max_body_bytes if path.startswith("/api/kb/") else SETTINGS.max_body_bytes
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        resp = client.request(method, path, content=chunks(limit + 1),
                              headers={"content-type": "application/json"})
    assert resp.status_code == 413, resp.text
    assert resp.json()["error"]["code"] == "body_too_large"


def test_a_chunked_body_within_the_limit_is_served(stack: Stack) -> None:
    body = json.dumps({"sender_id": f"chunked-{uuid.uuid4().hex[:8]}", "message": "你好"}).encode()
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        resp = client.post("/api/chat", content=iter([body[:10], body[10:]]),
                           headers={"content-type": "application/json"})
    assert resp.status_code == 200, resp.text
    assert resp.json()["turn"]["outcome"] == "smalltalk"
