"""User-facing channels beyond the plain API: the web widget (socket.io) and WeChat.

`install(app, settings)` mounts socket.io at creation; WeChat is part of the app's state
(connectors/gateway/state.py).
"""

from __future__ import annotations

from fastapi import FastAPI

from connectors.gateway.channels.widget import SocketIOChannel, SocketIOMiddleware
from connectors.gateway.settings import Settings


def install(app: FastAPI, settings: Settings) -> SocketIOChannel:
    """Mount socket.io in front of the app (same ASGI app); the lifespan registers its pusher."""
    channel = SocketIOChannel(app, settings)
    app.add_middleware(SocketIOMiddleware, channel=channel)
    return channel
