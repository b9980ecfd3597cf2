"""WeChat's server API: access token (cached in Redis until it expires), customer-service
messages (`message/custom/send`) and typing status (`message/custom/typing`)."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import redis.asyncio as aioredis

log = logging.getLogger("xiaoshen.wechat")

TOKEN_EXPIRED = frozenset({40001, 40014, 42001})
WINDOW_PASSED = 45015  # the user's last message is more than 48 h old
QUOTA_REACHED = 45047  # more than 5 messages since the user's last message
TOKEN_MARGIN_S = 300  # refresh a little before WeChat expires the token


class WeChatApiError(Exception):
    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"WeChat API error {errcode}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg


class WeChatApi:
    """Async client for one mini-program's server API."""

    def __init__(
        self, base_url: str, appid: str, secret: str, redis: aioredis.Redis, timeout_s: float
    ) -> None:
        self.appid = appid
        self._secret = secret
        self.redis = redis
        self.http = httpx.AsyncClient(base_url=base_url.rstrip("/"), timeout=timeout_s)
        self._token_key = f"xs:wechat:token:{appid}"

    async def close(self) -> None:
        await self.http.aclose()

    async def access_token(self, refresh: bool = False) -> str:
        if not refresh:
            cached = await self.redis.get(self._token_key)
            if cached:
                return str(cached)
        resp = await self.http.get(
            "/cgi-bin/token",
            params={"grant_type": "client_credential", "appid": self.appid, "secret": self._secret},
        )
        data = _json(resp)
        token = data.get("access_token")
        if not token:
            raise WeChatApiError(int(data.get("errcode") or -1), str(data.get("errmsg") or "no token"))
        ttl = max(60, int(data.get("expires_in") or 7200) - TOKEN_MARGIN_S)
        await self.redis.set(self._token_key, token, ex=ttl)
        return str(token)

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for attempt in range(2):
            token = await self.access_token(refresh=attempt > 0)
            resp = await self.http.post(path, params={"access_token": token}, json=body)
            data = _json(resp)
            code = int(data.get("errcode") or 0)
            if code == 0:
                return data
            if code in TOKEN_EXPIRED and attempt == 0:
                await self.redis.delete(self._token_key)
                continue
            raise WeChatApiError(code, str(data.get("errmsg") or ""))
        raise WeChatApiError(-1, "unreachable")

    async def send_text(self, openid: str, content: str) -> None:
        await self._post(
            "/cgi-bin/message/custom/send",
            {"touser": openid, "msgtype": "text", "text": {"content": content}},
        )

    async def typing(self, openid: str, on: bool = True) -> None:
        await self._post(
            "/cgi-bin/message/custom/typing",
            {"touser": openid, "command": "Typing" if on else "CancelTyping"},
        )


def _json(resp: httpx.Response) -> dict[str, Any]:
    try:
        data = resp.json()
    except ValueError as exc:
        raise WeChatApiError(-1, f"HTTP {resp.status_code}: not JSON") from exc
    if not isinstance(data, dict):
        raise WeChatApiError(-1, f"HTTP {resp.status_code}: unexpected body")
    return data
