"""/wechat/miniprogram — WeChat's message push (消息推送) for the mini-program's customer service."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import PlainTextResponse

from connectors.gateway.deps import StateDep
from connectors.gateway.errors import ApiError
from connectors.gateway.wechat.service import WeChatService

router = APIRouter(prefix="/wechat", tags=["wechat"])


def _service(state: StateDep) -> WeChatService:
    service = state.wechat
    if not service.configured:
        raise ApiError(
            503,
            "wechat_not_configured",
            "微信渠道未配置（WECHAT_TOKEN）/ The WeChat channel is not configured (WECHAT_TOKEN).",
        )
    return service


@router.get("/miniprogram", response_class=PlainTextResponse)
async def verify(
    state: StateDep,
    signature: Annotated[str, Query()] = "",
    timestamp: Annotated[str, Query()] = "",
    nonce: Annotated[str, Query()] = "",
    echostr: Annotated[str, Query()] = "",
) -> PlainTextResponse:
    """WeChat's URL check: echo `echostr` when the signature matches WECHAT_TOKEN."""
    service = _service(state)
    if not service.verify_url(signature, timestamp, nonce):
        raise ApiError(403, "invalid_signature", "签名校验失败 / Signature check failed.")
    return PlainTextResponse(echostr)


@router.post("/miniprogram", response_class=PlainTextResponse)
async def push(request: Request, state: StateDep) -> PlainTextResponse:
    """Verify, deduplicate and acknowledge at once; the answer goes out through the send API."""
    service = _service(state)
    body = await request.body()
    fields = service.open_push(request.query_params, body)
    # A Redis outage answers 503 (errors.py): not acknowledged, so WeChat retries, and the retry
    # is processed once Redis is back.
    await service.accept(fields)
    return PlainTextResponse("success")
