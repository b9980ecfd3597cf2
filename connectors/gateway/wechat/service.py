"""The WeChat mini-program channel: verify and open pushes, answer in the background.

WeChat retries a push that is not answered within 5 s, so the route only verifies, deduplicates
(by MsgId; events by sender + CreateTime) and schedules; the turn runs afterwards and its reply
goes out through the customer-service API. WeChat allows 5 such messages within 48 h of the
user's last message: a turn is sent as one message, the 5th slot is kept for "reply to see
more", and anything beyond (or refused with 45015/45047) is queued and sent with the user's next
message.
"""

from __future__ import annotations

import asyncio
import json
import logging
import unicodedata
import weakref
from collections.abc import Mapping
from typing import Any

from redis.exceptions import RedisError

from connectors.gateway.conversations import Entry, new_entry
from connectors.gateway.errors import ApiError, UpstreamError
from connectors.gateway.wechat.api import QUOTA_REACHED, WINDOW_PASSED, WeChatApi, WeChatApiError
from connectors.gateway.wechat.crypto import WeChatCipher, WeChatCryptoError, check_signature
from connectors.gateway.wechat.messages import BadMessage, degrade, parse_body

log = logging.getLogger("xiaoshen.wechat")

CHANNEL = "wechat"
SENDER_PREFIX = "wx-"
WINDOW_S = 48 * 3600
QUOTA = 5
SEEN_TTL_S = 3600
CHOICES_TTL_S = 24 * 3600
PENDING_TTL_S = 7 * 24 * 3600

SORRY = "抱歉，小申暂时无法回答，请稍后再试，或拨打 12345 市民服务热线。"
IMAGE_REPLY = "小申暂时看不懂图片。请用文字描述您想办理的事项，例如“开公司要带什么材料？”"
UNSUPPORTED_REPLY = "小申目前只能处理文字消息，请直接输入您的问题。"
MORE_WAITING = "还有新消息未显示。为避免打扰，请回复任意内容继续查看。"
PENDING_HEADER = "您有未读消息："


class PushRejected(ApiError):
    """A push that must be refused: status and the contract's error code/message."""


def sender_id(openid: str) -> str:
    return SENDER_PREFIX + openid


def choice_number(text: str) -> int | None:
    """ "1", "１", " 2 " → the number; anything else → None."""
    norm = unicodedata.normalize("NFKC", text).strip()
    return int(norm) if norm.isdigit() and len(norm) <= 2 else None


class WeChatService:
    def __init__(self, state: Any) -> None:
        self.state = state
        s = state.settings
        self.token = s.wechat_token.get_secret_value()
        self.appid = s.wechat_appid
        aes = s.wechat_aes_key.get_secret_value()
        self.cipher: WeChatCipher | None = None
        try:
            self.cipher = WeChatCipher(aes, self.appid) if aes else None
        except WeChatCryptoError as exc:  # the other channels keep working; safe-mode pushes get 503
            log.error("WECHAT_AES_KEY is unusable: %s", exc)
        secret = s.wechat_secret.get_secret_value()
        self.api = (
            WeChatApi(s.wechat_api_base, self.appid, secret, state.redis, s.wechat_api_timeout_s)
            if self.appid and secret
            else None
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()

    @property
    def configured(self) -> bool:
        return bool(self.token)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.api is not None:
            await self.api.close()

    # --- the push endpoint ----------------------------------------------------------------------
    def verify_url(self, signature: str, timestamp: str, nonce: str) -> bool:
        return check_signature(signature, self.token, timestamp, nonce)

    def open_push(self, query: Mapping[str, str], body: bytes) -> dict[str, str]:
        """The push's fields after checking its signature (and decrypting it in safe mode)."""
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        try:
            fields, _ = parse_body(body)
        except BadMessage as exc:
            if not self.verify_url(query.get("signature", ""), timestamp, nonce):
                raise PushRejected(403, "invalid_signature", _BAD_SIGNATURE) from exc
            raise PushRejected(
                400, "invalid_body", "消息体不是有效的 XML 或 JSON / The body is neither XML nor JSON."
            ) from exc
        encrypted = fields.get("Encrypt")
        if encrypted or query.get("encrypt_type") == "aes":
            if not check_signature(
                query.get("msg_signature", ""), self.token, timestamp, nonce, encrypted or ""
            ):
                raise PushRejected(403, "invalid_signature", _BAD_SIGNATURE)
            if self.cipher is None:
                raise PushRejected(
                    503, "wechat_not_configured", "未配置 WECHAT_AES_KEY / Safe mode needs WECHAT_AES_KEY."
                )
            try:
                fields, _ = parse_body(self.cipher.decrypt(encrypted or ""))
            except (WeChatCryptoError, BadMessage, UnicodeDecodeError) as exc:
                raise PushRejected(
                    403, "invalid_encryption", "消息解密失败或 appid 不符 / Decryption or appid check failed."
                ) from exc
        elif not self.verify_url(query.get("signature", ""), timestamp, nonce):
            raise PushRejected(403, "invalid_signature", _BAD_SIGNATURE)
        if not fields.get("FromUserName") or not fields.get("MsgType"):
            raise PushRejected(
                400, "invalid_body", "缺少 FromUserName 或 MsgType / FromUserName or MsgType missing."
            )
        return fields

    async def accept(self, fields: dict[str, str]) -> bool:
        """Schedule the push unless it was already seen (WeChat's retries); True when new."""
        if fields.get("MsgId"):
            key = f"xs:wechat:seen:{fields['MsgId']}"
        else:
            key = f"xs:wechat:seen:{fields['FromUserName']}:{fields.get('CreateTime', '')}"
        if not await self.state.redis.set(key, "1", nx=True, ex=SEEN_TTL_S):
            return False
        task = asyncio.create_task(self._process(fields))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    # --- background processing ------------------------------------------------------------------
    def _lock(self, openid: str) -> asyncio.Lock:
        lock = self._locks.get(openid)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[openid] = lock
        return lock

    async def _process(self, fields: dict[str, str]) -> None:
        openid = fields["FromUserName"]
        try:
            async with self._lock(openid):
                await self._user_spoke(openid)
                await self._handle(openid, fields)
        except Exception:
            log.exception("wechat push failed", extra={"fields": {"sender_id": sender_id(openid)}})

    async def _handle(self, openid: str, fields: dict[str, str]) -> None:
        kind = fields.get("MsgType")
        sid = sender_id(openid)
        if kind == "text":
            text = fields.get("Content", "").strip()
            if text:
                await self._turn(openid, await self._resolve_choice(openid, text))
        elif kind == "miniprogrampage":
            title = fields.get("Title", "").strip()
            if title:
                await self._turn(openid, title)
            else:
                await self._say(openid, UNSUPPORTED_REPLY)
        elif kind == "event" and fields.get("Event") == "user_enter_tempsession":
            await self._turn(openid, "/greet")
        elif kind == "image":
            await self.state.store.touch(sid, CHANNEL)
            await self.state.store.append_many(sid, [new_entry("user", "[图片]"),
                                                     new_entry("bot", IMAGE_REPLY)])
            await self._say(openid, IMAGE_REPLY)
        elif kind != "event":
            await self._say(openid, UNSUPPORTED_REPLY)

    async def _resolve_choice(self, openid: str, text: str) -> str:
        number = choice_number(text)
        if number is None:
            return text
        raw = await self.state.redis.get(f"xs:wechat:choices:{openid}")
        choices = json.loads(raw) if raw else []
        return str(choices[number - 1]) if 1 <= number <= len(choices) else text

    async def _turn(self, openid: str, text: str) -> None:
        await self._typing(openid)
        try:
            reply = (await self.state.chat.turn(sender_id(openid), text, CHANNEL)).reply
        except UpstreamError as exc:
            log.warning("wechat turn failed: %s", exc)
            await self._say(openid, SORRY)
            return
        except ApiError as exc:  # the channel's input rules (too long, empty after cleaning)
            await self._say(openid, exc.message)
            return
        if reply.messages:
            await self._send_rich(openid, [m.model_dump() for m in reply.messages])

    async def _send_rich(self, openid: str, messages: list[dict[str, Any]]) -> None:
        text, choices = degrade(messages)
        key = f"xs:wechat:choices:{openid}"
        if choices:
            await self.state.redis.set(key, json.dumps(choices, ensure_ascii=False), ex=CHOICES_TTL_S)
        if text:
            await self._say(openid, text)

    async def _typing(self, openid: str) -> None:
        if self.api is None:
            return
        try:
            await self.api.typing(openid)
        except Exception as exc:  # typing is a nicety; the answer still goes out
            log.info("wechat typing failed: %s", exc)

    # --- the 48 h / 5 message window --------------------------------------------------------------
    async def _user_spoke(self, openid: str) -> None:
        """A new 48 h window with 5 messages; whatever was queued goes out first."""
        redis = self.state.redis
        await redis.set(f"xs:wechat:sent:{openid}", 0, ex=WINDOW_S)
        pending_key = f"xs:wechat:pending:{openid}"
        pending = await redis.lrange(pending_key, 0, -1)
        if pending:
            await redis.delete(pending_key)
            await self._say(openid, PENDING_HEADER + "\n\n" + "\n\n".join(pending))

    async def _queue(self, openid: str, text: str) -> None:
        key = f"xs:wechat:pending:{openid}"
        await self.state.redis.rpush(key, text)
        await self.state.redis.expire(key, PENDING_TTL_S)

    async def _say(self, openid: str, text: str) -> None:
        """Send one text within WeChat's limits, or queue it for the user's next message."""
        redis = self.state.redis
        sent_key = f"xs:wechat:sent:{openid}"
        if self.api is None:
            log.warning("WECHAT_APPID/WECHAT_SECRET not set: cannot reply on WeChat")
            return
        if not await redis.exists(sent_key):
            await self._queue(openid, text)  # the 48 h window has passed
            return
        used = int(await redis.incr(sent_key))
        if used > QUOTA:
            await self._queue(openid, text)
            return
        if used == QUOTA:
            await self._queue(openid, text)
            text = MORE_WAITING
        try:
            await self.api.send_text(openid, text)
        except WeChatApiError as exc:
            log.warning("wechat send refused: %s", exc, extra={"fields": {"sender_id": sender_id(openid)}})
            if exc.errcode == WINDOW_PASSED:
                await redis.delete(sent_key)
            elif exc.errcode == QUOTA_REACHED:
                await redis.set(sent_key, QUOTA + 1, keepttl=True)
            if text != MORE_WAITING:
                await self._queue(openid, text)
        except Exception as exc:  # network: keep the message for the next chance
            log.warning("wechat send failed: %s", exc)
            if text != MORE_WAITING:
                await self._queue(openid, text)

    # --- Outbox pusher ----------------------------------------------------------------------------
    async def push(self, sid: str, entry: Entry) -> None:
        """Agent replies (and typing) for WeChat users, through the customer-service API."""
        if not sid.startswith(SENDER_PREFIX):
            return
        openid = sid[len(SENDER_PREFIX) :]
        custom = entry.get("custom") or {}
        if int(entry.get("seq") or 0) == 0:
            typing = custom.get("typing")
            if isinstance(typing, dict) and typing.get("on"):
                await self._typing(openid)
            return
        message: dict[str, Any] = dict(entry)
        if entry.get("role") == "agent" and entry.get("text"):
            message["text"] = f"【人工客服】{entry['text']}"
        try:
            async with self._lock(openid):
                await self._send_rich(openid, [message])
        except RedisError:
            log.exception("wechat push failed")


_BAD_SIGNATURE = "签名校验失败 / Signature check failed."
