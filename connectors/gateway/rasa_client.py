"""Talking to the Rasa server over its REST channel and HTTP API.

aiohttp rather than httpx for this one hot path: every turn makes one call, and aiohttp's keep-alive
client costs ~0.2 ms a call against ~1 ms for httpx's (docs/benchmarks.md, "Gateway vs Rasa").
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp

from connectors.gateway.errors import UpstreamError


class RasaClient:
    """Async client for one Rasa server (its session is opened on first use, in the running loop)."""

    def __init__(self, base_url: str, token: str, timeout_s: float) -> None:
        self._base = base_url.rstrip("/")
        self._params = {"token": token} if token else {}
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, raise_for_status=False)
        return self._session

    async def _request(self, method: str, path: str, body: Any = None) -> Any:
        """The decoded JSON answer; UpstreamError on a network error, a timeout, 4xx/5xx or garbage."""
        try:
            async with self._http().request(method, self._base + path, params=self._params,
                                            json=body) as resp:
                text = await resp.text()
                if resp.status >= 400:
                    raise UpstreamError("rasa", f"HTTP {resp.status}: {text[:200]}")
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise UpstreamError("rasa", f"{type(exc).__name__}: {exc}") from exc
        try:
            return json.loads(text)
        except ValueError as exc:
            raise UpstreamError("rasa", f"not JSON: {text[:200]}") from exc

    async def send(self, sender_id: str, message: str) -> list[dict[str, Any]]:
        """Run one user turn; Rasa's bot messages in order.

        No metadata: no action reads it, and Rasa keeps it on every event of its tracker (~1 ms a
        turn); the channel is recorded by the gateway's own events."""
        body = {"sender": sender_id, "message": message}
        data = await self._request("POST", "/webhooks/rest/webhook", body)
        return data if isinstance(data, list) else []

    async def ping(self) -> bool:
        """True when the server answers and has a model loaded."""
        data = await self._request("GET", "/status")
        return isinstance(data, dict) and bool(data.get("model_file"))
