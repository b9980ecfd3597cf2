"""Conversation tokens for HTTP clients of the chat API (tests, evaluation, benchmarks).

`TokenJar` hooks into an httpx client (sync or async, also Starlette's TestClient): it keeps the
`conversation_token` the first turn of each `sender_id` answers and sends it as
`X-Conversation-Token` on every later request about that conversation, as a well-behaved client
of ../shared/CONTRACT.md does. A request that already carries the header is left alone.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

import httpx

HEADER: Final = "X-Conversation-Token"
_CONVERSATION_PATH = re.compile(r"^/api/chat/([^/]+)/")


class TokenJar:
    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}

    @staticmethod
    def _turn_sender(request: httpx.Request) -> str | None:
        if request.method != "POST" or request.url.path != "/api/chat":
            return None
        try:
            sender = json.loads(request.content or b"{}").get("sender_id")
        except (ValueError, AttributeError):
            return None
        return sender if isinstance(sender, str) else None

    def sender_of(self, request: httpx.Request) -> str | None:
        """The conversation a request is about, if it is one of the chat API's."""
        match = _CONVERSATION_PATH.match(request.url.path)
        if match:
            return httpx.URL(f"/{match.group(1)}").path.lstrip("/")  # percent-decoded
        return self._turn_sender(request)

    def on_request(self, request: httpx.Request) -> None:
        sender = self.sender_of(request)
        if sender in self.tokens and HEADER not in request.headers:
            request.headers[HEADER] = self.tokens[sender]

    def keep(self, request: httpx.Request, body: Any) -> None:
        sender = self._turn_sender(request)
        token = body.get("conversation_token") if isinstance(body, dict) else None
        if sender and isinstance(token, str):
            self.tokens[sender] = token

    def on_response(self, response: httpx.Response) -> None:
        if response.status_code == 200 and self._turn_sender(response.request):
            response.read()
            self.keep(response.request, response.json())

    async def on_async_response(self, response: httpx.Response) -> None:
        if response.status_code == 200 and self._turn_sender(response.request):
            await response.aread()
            self.keep(response.request, response.json())

    async def on_async_request(self, request: httpx.Request) -> None:
        self.on_request(request)

    def attach(self, client: httpx.Client | httpx.AsyncClient) -> Any:
        """Install the jar's hooks on `client` (keeping its own); returns the client."""
        hooks = client.event_hooks
        if isinstance(client, httpx.AsyncClient):
            hooks["request"] = [*hooks.get("request", []), self.on_async_request]
            hooks["response"] = [*hooks.get("response", []), self.on_async_response]
        else:
            hooks["request"] = [*hooks.get("request", []), self.on_request]
            hooks["response"] = [*hooks.get("response", []), self.on_response]
        client.event_hooks = hooks
        return client


def with_tokens(client: Any) -> Any:
    """`client` with a fresh TokenJar attached."""
    return TokenJar().attach(client)
