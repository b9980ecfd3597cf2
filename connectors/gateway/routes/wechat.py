"""/wechat/miniprogram — WeChat's message push (消息推送) for the mini-program's customer service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse
from redis.exceptions import RedisError

from connectors.gateway.errors import ApiError
from connectors.gateway.wechat.service import PushRejected, WeChatService

router = APIRouter(prefix="/wechat", tags=["wechat"])


def _service(request: Request) -> WeChatService:
    service: WeChatService | None = getattr(request.app.state, "wechat", None)
    if service is None or not service.configured:
        raise ApiError(
            503,
            "wechat_not_configured",
            "微信渠道未配置（WECHAT_TOKEN）/ The WeChat channel is not configured (WECHAT_TOKEN).",
        )
    return service


@router.get("/miniprogram", response_class=PlainTextResponse)
async def verify(
    request: Request,
    signature: Annotated[str, Query()] = "",
    timestamp: Annotated[str, Query()] = "",
    nonce: Annotated[str, Query()] = "",
    echostr: Annotated[str, Query()] = "",
) -> PlainTextResponse:
    """WeChat's URL check: echo `echostr` when the signature matches WECHAT_TOKEN."""
    service = _service(request)
    if not service.verify_url(signature, timestamp, nonce):
        raise ApiError(403, "invalid_signature", "签名校验失败 / Signature check failed.")
    return PlainTextResponse(echostr)


@router.post("/miniprogram", response_class=PlainTextResponse)
async def push(request: Request) -> PlainTextResponse:
    """Verify, deduplicate and acknowledge at once; the answer goes out through the send API."""
    service = _service(request)
    body = await request.body()
    try:
        fields = service.open_push(request.query_params, body)
    except PushRejected as exc:
        raise ApiError(exc.status, exc.code, exc.message) from exc
    try:
        await service.accept(fields)
    except RedisError as exc:
        # Not acknowledged: WeChat retries, and the retry is processed once Redis is back.
        raise ApiError(
            503, "redis_unavailable", "会话存储暂时不可用 / Conversation storage (Redis) is unavailable."
        ) from exc
    return PlainTextResponse("success")
