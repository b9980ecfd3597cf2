"""User-facing channels beyond the plain API: the web widget (socket.io) and WeChat.

`install(app, settings)` wires them into the app at creation; `startup(app)` / `shutdown(app)` run
inside the app's lifespan, once the shared state exists (they register the Outbox pushers).
"""

from __future__ import annotations

from fastapi import FastAPI

from connectors.gateway.channels.widget import SocketIOChannel, SocketIOMiddleware
from connectors.gateway.settings import Settings
from connectors.gateway.wechat.service import WeChatService


def install(app: FastAPI, settings: Settings) -> None:
    """Mount socket.io in front of the app (same ASGI app, so app.state keeps working)."""
    channel = SocketIOChannel(app, settings)
    app.state.socketio = channel
    app.add_middleware(SocketIOMiddleware, channel=channel)


async def startup(app: FastAPI) -> None:
    """Register each channel's Outbox pusher; called once AppState exists."""
    state = app.state.xs
    channel: SocketIOChannel = app.state.socketio
    state.outbox.register("widget", channel.push)
    wechat = WeChatService(state)
    app.state.wechat = wechat
    state.outbox.register("wechat", wechat.push)


async def shutdown(app: FastAPI) -> None:
    wechat: WeChatService | None = getattr(app.state, "wechat", None)
    if wechat is not None:
        await wechat.close()
