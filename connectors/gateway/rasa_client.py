"""Talking to the Rasa server over its REST channel and HTTP API."""

from __future__ import annotations

from typing import Any

import httpx

from connectors.gateway.errors import UpstreamError


class RasaClient:
    """Async client for one Rasa server."""

    def __init__(self, base_url: str, token: str, timeout_s: float) -> None:
        self._params = {"token": token} if token else {}
        self._http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)

    async def close(self) -> None:
        await self._http.aclose()

    async def _request(self, method: str, url: str, params: dict[str, str] | None = None,
                       **kwargs: Any) -> httpx.Response:
        try:
            resp = await self._http.request(method, url, params={**self._params, **(params or {})},
                                            **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamError("rasa", f"{type(exc).__name__}: {exc}") from exc
        if resp.status_code >= 400:
            raise UpstreamError("rasa", f"HTTP {resp.status_code}: {resp.text[:200]}")
        return resp

    async def send(self, sender_id: str, message: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """Run one user turn; Rasa's bot messages in order."""
        body = {"sender": sender_id, "message": message, "metadata": metadata}
        resp = await self._request("POST", "/webhooks/rest/webhook", json=body)
        data = resp.json()
        return data if isinstance(data, list) else []

    async def ping(self) -> bool:
        """True when the server answers and has a model loaded."""
        resp = await self._request("GET", "/status")
        return bool(resp.json().get("model_file"))
