"""The web widget channel: Rasa's socket.io protocol, served by the gateway.

Existing Rasa widgets (rasa-webchat) connect unchanged: `session_request` → `session_confirm`
(a bare id), `user_uttered {message, session_id}` → `bot_uttered` in Rasa's exact shapes
(`{text}`, `{text, quick_replies}`, or a custom dict alone; rasa-webchat drops any message with
extra keys). Our own widget additionally listens to `xs_message` (the full transcript entry with
its sequence number, buttons and custom card/handoff/rating data) and `xs_signal` (transient:
typing, queue updates), sends a `client_id` with each message (a resend after a reconnect is
answered once), and asks `xs_history {after}` for what it missed.

Sessions persist by `session_id`: every socket of a session joins the room named by it, and
`enter_room` is awaited (Rasa 3.6's channel forgets to, so its replies reach nobody with
python-socketio ≥ 5.10).

A session id alone lets nobody in (owners.py). `session_request` starts a new conversation, or
joins an existing one only when the socket presents its conversation token (our widget keeps it
with its history and sends `conversation_token`) or comes from the browser that started it: every
socket.io response sets an HttpOnly `xs_browser` cookie, and a conversation remembers the hash of
the cookie it began with (how rasa-webchat, which knows nothing of tokens, resumes after a reload).
Anyone else claiming the id is given a fresh conversation instead.
"""

from __future__ import annotations

import logging
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable, MutableMapping
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio
from fastapi import FastAPI
from redis.exceptions import RedisError

from connectors.gateway.chat import clean_message
from connectors.gateway.conversations import Entry
from connectors.gateway.errors import ApiError
from connectors.gateway.owners import Admission
from connectors.gateway.settings import Settings

log = logging.getLogger("xiaoshen.widget")

CHANNEL = "widget"
SOCKETIO_PATH = "socket.io"
_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
CLIENT_ID_TTL_S = 24 * 3600
BROWSER_COOKIE = "xs_browser"
BROWSER_COOKIE_MAX_AGE_S = 30 * 24 * 3600
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")
SORRY = "抱歉，小申暂时无法回答，请稍后再试。"

Scope = MutableMapping[str, Any]
ASGIApp = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]], Awaitable[None]]


def allowed_origins(settings: Settings) -> frozenset[str]:
    """The configured embedding origins (scheme://host[:port], no trailing slash)."""
    return frozenset(o.strip().rstrip("/") for o in settings.cors_allowed_origins.split(",") if o.strip())


def origin_allowed(origin: str | None, environ: dict[str, Any], configured: frozenset[str]) -> bool:
    """A browser may connect from the gateway's own origin or a configured one.

    Clients that send no Origin (servers, tests) are not browsers embedding us and pass.
    """
    if not origin:
        return True
    return page_origin_allowed(origin, environ.get("HTTP_HOST", ""), environ.get("wsgi.url_scheme", ""),
                               configured)


def page_origin_allowed(origin: str, host: str, scheme: str, configured: frozenset[str]) -> bool:
    """The page's origin is the gateway's own (`host`, reached over `scheme`) or a configured one.
    A websocket upgrade reports scheme ws/wss; the page's origin is http/https."""
    page_scheme = "https" if scheme in ("wss", "https") else "http"
    origin = origin.rstrip("/")
    return origin == f"{page_scheme}://{host}" or origin in configured


def rasa_shape(entry: Entry) -> dict[str, Any] | None:
    """A transcript entry as Rasa's socket.io channel would have sent it (None: nothing to show)."""
    text = entry.get("text")
    buttons = entry.get("buttons") or []
    if text:
        if buttons:
            return {
                "text": text,
                "quick_replies": [
                    {"content_type": "text", "title": b.get("title", ""), "payload": b.get("payload", "")}
                    for b in buttons
                ],
            }
        return {"text": text}
    custom = entry.get("custom") or {}
    return dict(custom) if custom else None


class SocketIOChannel:
    """The socket.io server and its event handlers; reads AppState from the app at call time."""

    def __init__(self, app: FastAPI, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        configured = allowed_origins(settings)
        manager = socketio.AsyncRedisManager(settings.redis_url) if settings.widget_redis_manager else None
        self.sio = socketio.AsyncServer(
            async_mode="asgi",
            cors_allowed_origins=lambda origin, environ: origin_allowed(origin, environ, configured),
            client_manager=manager,
            logger=False,
            engineio_logger=False,
            max_http_buffer_size=settings.max_body_bytes,
        )
        self.asgi = socketio.ASGIApp(self.sio, socketio_path=SOCKETIO_PATH)
        self.sio.on("session_request", self.session_request)
        self.sio.on("user_uttered", self.user_uttered)
        self.sio.on("xs_history", self.history)

    @property
    def state(self) -> Any:
        return self.app.state.xs

    async def _join(self, sid: str, session_id: str) -> None:
        await self.sio.save_session(sid, {"session_id": session_id})
        await self.sio.enter_room(sid, session_id)

    async def _session_of(self, sid: str) -> str | None:
        """The session this socket was admitted to by session_request (None before)."""
        session = await self.sio.get_session(sid)
        return str(session["session_id"]) if session.get("session_id") else None

    def _client(self, sid: str) -> str:
        """The socket's client address (engine.io's environ always says 127.0.0.1; the scope knows)."""
        environ = self.sio.get_environ(sid) or {}
        client = (environ.get("asgi.scope") or {}).get("client")
        return str(client[0]) if client else ""

    def _browser(self, sid: str) -> str | None:
        """The socket's `xs_browser` cookie (set by SocketIOMiddleware), if any."""
        environ = self.sio.get_environ(sid) or {}
        return browser_cookie(environ.get("HTTP_COOKIE", ""))

    # --- events ---------------------------------------------------------------------------------
    async def session_request(self, sid: str, data: Any = None) -> dict[str, Any] | None:
        data = data if isinstance(data, dict) else {}
        claimed = data.get("session_id")
        token = data.get("conversation_token")
        token = token if isinstance(token, str) and _TOKEN.match(token) else None
        browser = self._browser(sid)
        owners = self.state.owners
        try:
            admission: Admission | None = None
            if isinstance(claimed, str) and _SESSION_ID.match(claimed):
                try:
                    admission = await owners.admit(claimed, CHANNEL, token, browser=browser)
                except ApiError:  # someone else's (or another channel's) id: start afresh
                    log.info("session id refused", extra={"fields": {"sender_id": claimed}})
            if admission is None:
                wait = await self.state.limits.over("session_ip", self._client(sid))
                if wait is not None:
                    return _error("rate_limited", f"操作太频繁了，请 {wait} 秒后再试 / Too many new "
                                  f"conversations; please retry in {wait} s.")
                admission = await owners.admit(uuid.uuid4().hex, CHANNEL, None, browser=browser)
        except RedisError as exc:
            log.warning("session_request failed: %s", exc)
            return _error("unavailable",
                          "服务暂时不可用，请稍后再试 / The service is unavailable; retry shortly.")
        session_id = admission.sender_id
        await self._join(sid, session_id)
        if admission.token:  # our widget keeps it; rasa-webchat ignores the event
            await self.sio.emit("xs_session", {"session_id": session_id,
                                               "conversation_token": admission.token}, to=sid)
        await self.sio.emit("session_confirm", session_id, to=sid)
        return None

    async def user_uttered(self, sid: str, data: Any = None) -> dict[str, Any]:
        if not isinstance(data, dict):
            return _error("invalid_request", "消息格式错误 / The message must be an object.")
        try:
            text = clean_message(data.get("message"), self.settings.max_message_chars)
        except ApiError as exc:
            if exc.code == "message_too_long":  # rasa-webchat shows no acknowledgement errors
                await self.sio.emit("bot_uttered", {"text": exc.message}, to=sid)
            return _error(exc.code, exc.message)
        session_id = await self._session_of(sid)
        if session_id is None:
            return _error("no_session", "请先建立会话 / Send session_request first.")
        client_id = data.get("client_id")
        client_id = client_id if isinstance(client_id, str) and _CLIENT_ID.match(client_id) else None
        try:
            limits = self.state.limits
            wait = (await limits.over("turn_ip", self._client(sid))
                    or await limits.over("turn_sender", session_id))
        except RedisError:
            wait = None  # the turn itself reports the outage
        if wait is not None:
            message = (f"您发送得太快了，请 {wait} 秒后再试 / You are sending too fast; "
                       f"please retry in {wait} s.")
            await self.sio.emit("bot_uttered", {"text": message}, to=sid)
            return _error("rate_limited", message)
        return await self._turn(sid, session_id, text, client_id)

    async def _turn(self, sid: str, session_id: str, text: str, client_id: str | None) -> dict[str, Any]:
        state = self.state
        dedupe_key = f"xs:widget:cid:{session_id}:{client_id}" if client_id else None
        try:
            if dedupe_key:
                if not await state.redis.set(dedupe_key, "0", nx=True, ex=CLIENT_ID_TTL_S):
                    # A resend of a message already handled: its reply is in the transcript.
                    seen = int(await state.redis.get(dedupe_key) or 0)
                    return {"ok": True, "seq": seen or None, "duplicate": True}
            await self.signal(session_id, {"typing": {"who": "bot", "on": True}})
            try:
                turned = await state.chat.turn(session_id, text, CHANNEL, client=self._client(sid))
            finally:
                await self.signal(session_id, {"typing": {"who": "bot", "on": False}})
        except (ApiError, RedisError) as exc:
            log.warning("widget turn failed: %s", exc, extra={"fields": {"sender_id": session_id}})
            if dedupe_key:
                try:
                    await state.redis.delete(dedupe_key)
                except RedisError:
                    pass
            await self.sio.emit("bot_uttered", {"text": SORRY}, to=sid)
            return _error(
                "unavailable", "服务暂时不可用，请稍后再试 / The service is unavailable; retry shortly."
            )
        user_seq = int(turned.user["seq"])
        if dedupe_key:
            await state.redis.set(dedupe_key, str(user_seq), ex=CLIENT_ID_TTL_S)
        # Other tabs of the session show what was asked (rasa-webchat does not know the event);
        # agent or system messages in between were pushed by the Outbox.
        await self.sio.emit("xs_message", dict(turned.user), room=session_id)
        for entry in turned.bot:
            await self.emit_entry(session_id, entry)
        return {"ok": True, "seq": user_seq}

    async def history(self, sid: str, data: Any = None) -> dict[str, Any]:
        """Everything after `after` in this session's transcript (our widget's catch-up)."""
        data = data if isinstance(data, dict) else {}
        session_id = await self._session_of(sid)
        if session_id is None:
            return _error("no_session", "请先建立会话 / Send session_request first.")
        after = data.get("after", 0)
        if not isinstance(after, int) or isinstance(after, bool) or after < 0:
            return _error("invalid_request", "after 必须是非负整数 / after must be a non-negative integer.")
        try:
            entries = await self.state.store.history(session_id, after=after)
        except RedisError:
            return _error("unavailable", "会话存储暂时不可用 / Conversation storage is unavailable.")
        return {"ok": True, "messages": [dict(e) for e in entries]}

    # --- pushing --------------------------------------------------------------------------------
    async def emit_entry(self, session_id: str, entry: Entry) -> None:
        """One stored message to every socket of the session, in both protocols."""
        await self.sio.emit("xs_message", dict(entry), room=session_id)
        shaped = rasa_shape(entry)
        if shaped is not None:
            await self.sio.emit("bot_uttered", shaped, room=session_id)

    async def signal(self, session_id: str, custom: dict[str, Any]) -> None:
        await self.sio.emit("xs_signal", custom, room=session_id)

    async def push(self, sender_id: str, entry: Entry) -> None:
        """The Outbox pusher for channel "widget" (agent replies, queue updates, typing)."""
        if int(entry.get("seq") or 0) == 0:
            await self.signal(sender_id, dict(entry.get("custom") or {}))
        else:
            await self.emit_entry(sender_id, entry)


def _error(code: str, message: str) -> dict[str, Any]:
    return {"ok": False, "error": {"code": code, "message": message}}


def browser_cookie(header: str) -> str | None:
    """The `xs_browser` value of a Cookie header, when it is one we could have set."""
    try:
        morsel = SimpleCookie(header).get(BROWSER_COOKIE)
    except CookieError:
        return None
    value = morsel.value if morsel else ""
    return value if _TOKEN.match(value) else None


class SocketIOMiddleware:
    """Routes /socket.io/ to the socket.io server and everything else to the app.

    A socket.io request without our browser cookie gets one (Set-Cookie on the handshake's
    response or the WebSocket accept), and the request itself is handled as if it had sent it, so
    the connection's environ carries the cookie from the start.
    """

    def __init__(self, app: ASGIApp, channel: SocketIOChannel) -> None:
        self.app = app
        self.channel = channel

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] in ("http", "websocket") and scope.get("path", "").startswith(f"/{SOCKETIO_PATH}/"):
            headers = list(scope.get("headers") or [])
            cookie = b",".join(v for k, v in headers if k == b"cookie").decode("latin-1")
            if browser_cookie(cookie) is None:
                value = secrets.token_urlsafe(24)
                secure = "; Secure" if scope.get("scheme") in ("https", "wss") else ""
                set_cookie = (f"{BROWSER_COOKIE}={value}; Path=/{SOCKETIO_PATH}/; "
                              f"Max-Age={BROWSER_COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax{secure}").encode()
                joined = f"{cookie}; {BROWSER_COOKIE}={value}" if cookie else f"{BROWSER_COOKIE}={value}"
                headers = [(k, v) for k, v in headers if k != b"cookie"] + [(b"cookie", joined.encode())]
                scope = dict(scope, headers=headers)
                send = _with_cookie(send, set_cookie)
            await self.channel.asgi(scope, receive, send)
        else:
            await self.app(scope, receive, send)


def _with_cookie(send: Any, set_cookie: bytes) -> Any:
    async def sending(message: dict[str, Any]) -> None:
        if message.get("type") in ("http.response.start", "websocket.accept"):
            message = dict(message, headers=[*message.get("headers", []), (b"set-cookie", set_cookie)])
        await send(message)

    return sending
