"""The WeChat mini-program channel: verify and open pushes, answer in the background.

WeChat retries a push that is not answered within 5 s, so the route only verifies, deduplicates
(by MsgId; events by sender + CreateTime) and stores it; the turn runs afterwards and its reply
goes out through the customer-service API.

A push is acknowledged only once it is in Redis: the same script that admits it appends it to the
stream `xs:wechat:inbox:<appid>`, which every gateway of that mini-program reads as one consumer
group. A gateway removes a push when it has answered it, and renews its claim while answering, so
a push whose gateway died (its claim unrenewed for WECHAT_RECLAIM_IDLE_S) is taken over by another
gateway, or by the same one restarted. A push is marked done as soon as it is answered, so one
whose gateway died just after answering is not answered twice.

WeChat allows 5 customer-service messages within 48 h of the user's last message: a turn is sent
as one message, the 5th slot is kept for "reply to see more", and anything beyond (or refused with
45015/45047) is queued and sent with the user's next message.

A push is taken only when it is signed, within 5 minutes of its timestamp, encrypted whenever an
EncodingAESKey is set (safe mode; no plaintext fallback) and its (timestamp, nonce) pair has not
carried another message before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import secrets
import socket
import time
import unicodedata
import weakref
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from redis.exceptions import RedisError, ResponseError

from connectors.gateway.conversations import Entry, new_entry
from connectors.gateway.errors import ApiError, UpstreamError
from connectors.gateway.wechat.api import QUOTA_REACHED, WINDOW_PASSED, WeChatApi, WeChatApiError
from connectors.gateway.wechat.crypto import WeChatCipher, WeChatCryptoError, check_signature
from connectors.gateway.wechat.messages import BadMessage, degrade, parse_body

log = logging.getLogger("xiaoshen.wechat")

T = TypeVar("T")
CHANNEL = "wechat"
SENDER_PREFIX = "wx-"
WINDOW_S = 48 * 3600
QUOTA = 5
SEEN_TTL_S = 3600
CHOICES_TTL_S = 24 * 3600
PENDING_TTL_S = 7 * 24 * 3600
PUSH_WINDOW_S = 300  # how far a push's timestamp may be from our clock, either way
# A (timestamp, nonce) pair is acceptable from T - 300 to T + 300 of our clock, so it is
# remembered for 600 s after it was first seen, and a minute more for clock drift between gateways.
NONCE_TTL_S = 2 * PUSH_WINDOW_S + 60
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")  # ASCII digits only: int() would take "１２" or " 1"

SORRY = "抱歉，小申暂时无法回答，请稍后再试，或拨打 12345 市民服务热线。"
IMAGE_REPLY = "小申暂时看不懂图片。请用文字描述您想办理的事项，例如“开公司要带什么材料？”"
UNSUPPORTED_REPLY = "小申目前只能处理文字消息，请直接输入您的问题。"
MORE_WAITING = "还有新消息未显示。为避免打扰，请回复任意内容继续查看。"
PENDING_HEADER = "您有未读消息："
TOO_LONG_REPLY = "您的消息有点长，小申一次最多能读 {limit} 个字。请分几次发送，或简要说说您想办理的事项。"


class PushRejected(ApiError):
    """A push that must be refused: status and the contract's error code/message."""


@dataclass(frozen=True)
class Push:
    """An opened push: its fields, and the signed (timestamp, nonce) it came with."""

    fields: dict[str, str]
    timestamp: str
    nonce: str

    @property
    def message_id(self) -> str:
        """What WeChat's retries share: MsgId, or sender + CreateTime for events."""
        if self.fields.get("MsgId"):
            return self.fields["MsgId"]
        return f"{self.fields['FromUserName']}:{self.fields.get('CreateTime', '')}"


REDIS_TRIES: Final = 5  # a push's bookkeeping retries a Redis error this often (0.1 s, doubling)


async def _retrying(call: Callable[[], Awaitable[T]]) -> T:
    for attempt in range(REDIS_TRIES):
        try:
            return await call()
        except RedisError:
            if attempt == REDIS_TRIES - 1:
                raise
            await asyncio.sleep(0.1 * 2**attempt)
    raise AssertionError("unreachable")


INBOX: Final = "xs:wechat:inbox:"  # + appid: stream of one mini-program's pushes not yet answered
GROUP: Final = "gateways"
INBOX_MAX: Final = 100_000  # approximate cap; far above a day's unanswered backlog
DONE_TTL_S: Final = 3600
CLAIM_EVERY_S: Final = 2.0  # how often a gateway renews its claims and looks for abandoned pushes

# Atomically: a (timestamp, nonce) pair that carried another message is a replay (-1); the pair is
# bound to this message, which is new (1, and appended to the inbox stream) or a retry already
# taken (0). Nothing is written unless the whole script runs, so a push answered 503 (Redis down)
# is taken when WeChat retries it.
ADMIT: Final = """
local owner = redis.call('GET', KEYS[1])
if owner and owner ~= ARGV[1] then return -1 end
if not owner then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
if redis.call('SET', KEYS[2], '1', 'NX', 'EX', ARGV[3]) then
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[5], '*', 'push', ARGV[4])
  return 1
end
return 0
"""


def check_timestamp(timestamp: str, now: float) -> None:
    """403 stale_push unless the timestamp is a number of seconds within 300 s of `now`."""
    if not _TIMESTAMP.fullmatch(timestamp):
        raise PushRejected(403, "stale_push", "时间戳无效 / The timestamp is missing or not a number.")
    if abs(int(timestamp) - now) > PUSH_WINDOW_S:
        raise PushRejected(
            403,
            "stale_push",
            f"消息时间戳与当前时间相差超过 {PUSH_WINDOW_S} 秒 / "
            f"The push's timestamp is more than {PUSH_WINDOW_S} s from now.",
        )


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
        self.safe_mode = bool(aes)  # a key set means encrypted pushes only, even when it is unusable
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
        self._answering: set[str] = set()  # inbox entries this process is answering now
        self._consumer = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._reader: asyncio.Task[None] | None = None
        self.inbox = INBOX + (self.appid or "-")
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._admit = state.redis.register_script(ADMIT)

    @property
    def configured(self) -> bool:
        return bool(self.token)

    def start(self) -> None:
        """Begin answering the inbox stream (only when WeChat is configured)."""
        if self.configured and self._reader is None:
            self._reader = asyncio.create_task(self._read_inbox())

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        for task in list(self._tasks):
            task.cancel()
        if self.api is not None:
            await self.api.close()

    # --- the push endpoint ----------------------------------------------------------------------
    def verify_url(self, signature: str, timestamp: str, nonce: str) -> bool:
        """True when the signature matches WECHAT_TOKEN; a signed but stale timestamp is a 403."""
        if not check_signature(signature, self.token, timestamp, nonce):
            return False
        check_timestamp(timestamp, time.time())
        return True

    def open_push(self, query: Mapping[str, str], body: bytes) -> Push:
        """The push after checking its signature and timestamp (and decrypting it in safe mode).

        Signatures are checked first, so a forged push learns nothing but "invalid_signature".
        """
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        try:
            fields, _ = parse_body(body)
        except BadMessage as exc:
            if not check_signature(query.get("signature", ""), self.token, timestamp, nonce):
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
            check_timestamp(timestamp, time.time())
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
        else:
            if not check_signature(query.get("signature", ""), self.token, timestamp, nonce):
                raise PushRejected(403, "invalid_signature", _BAD_SIGNATURE)
            if self.safe_mode:
                # The plaintext signature covers neither the body nor the mode: it is the very
                # `signature` WeChat puts on every safe-mode push, so it proves nothing here.
                raise PushRejected(
                    403,
                    "encryption_required",
                    "已启用安全模式，只接受加密消息 / Safe mode is on: only encrypted pushes are accepted.",
                )
            check_timestamp(timestamp, time.time())
        if not fields.get("FromUserName") or not fields.get("MsgType"):
            raise PushRejected(
                400, "invalid_body", "缺少 FromUserName 或 MsgType / FromUserName or MsgType missing."
            )
        return Push(fields, timestamp, nonce)

    async def accept(self, push: Push) -> bool:
        """Schedule the push unless it was already taken (WeChat's retries); True when new.

        A (timestamp, nonce) pair that already carried another message is a replay: 403.
        """
        admitted = await self._admit(
            keys=[f"xs:wechat:nonce:{push.timestamp}:{push.nonce}", f"xs:wechat:seen:{push.message_id}",
                  self.inbox],
            args=[push.message_id, NONCE_TTL_S, SEEN_TTL_S, json.dumps(push.fields, ensure_ascii=False),
                  INBOX_MAX],
        )
        if int(admitted) < 0:
            raise PushRejected(
                403, "replayed_push", "该时间戳和随机数已被使用 / This timestamp and nonce were already used."
            )
        return bool(int(admitted))

    # --- the inbox stream ------------------------------------------------------------------------
    async def _read_inbox(self) -> None:
        """Read new pushes as they come, renew this process's claims, take over abandoned ones."""
        redis = self.state.redis
        idle_ms = int(self.state.settings.wechat_reclaim_idle_s * 1000)
        last_claim = 0.0
        while True:
            try:
                if time.monotonic() - last_claim >= CLAIM_EVERY_S:
                    last_claim = time.monotonic()
                    if self._answering:  # still at it: not abandoned
                        await redis.xclaim(self.inbox, GROUP, self._consumer, 0, list(self._answering),
                                           justid=True)
                    _, taken, *_ = await redis.xautoclaim(self.inbox, GROUP, self._consumer, idle_ms,
                                                          start_id="0-0", count=50)
                    for entry_id, fields in taken:
                        if not fields:  # trimmed from the stream meanwhile
                            continue
                        log.warning("answering a push its gateway abandoned",
                                    extra={"fields": {"entry": entry_id}})
                        self._answer(entry_id, fields)
                read = await redis.xreadgroup(GROUP, self._consumer, {self.inbox: ">"}, count=20, block=1000)
                for _, entries in read or []:
                    for entry_id, fields in entries:
                        self._answer(entry_id, fields)
            except ResponseError as exc:
                if "NOGROUP" not in str(exc):
                    log.warning("reading the WeChat inbox: %s", exc)
                    await asyncio.sleep(1)
                    continue
                with contextlib.suppress(ResponseError):  # BUSYGROUP: another gateway made it
                    await redis.xgroup_create(self.inbox, GROUP, id="0", mkstream=True)
            except RedisError as exc:
                log.warning("the WeChat inbox is unreachable: %s", exc)
                await asyncio.sleep(1)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("reading the WeChat inbox failed")
                await asyncio.sleep(1)

    def _answer(self, entry_id: str, fields: Mapping[str, str]) -> None:
        if entry_id in self._answering:
            return
        self._answering.add(entry_id)
        task = asyncio.create_task(self._answer_entry(entry_id, fields))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _answer_entry(self, entry_id: str, fields: Mapping[str, str]) -> None:
        """Answer one push (unless a gateway already did) and mark it done, holding its user's lock
        throughout: a push whose bookkeeping meets a Redis hiccup (a restart) retries in place, so
        the user's next push cannot overtake it. Redis still away after the retries: left pending,
        answered once Redis is back or taken over by another gateway."""
        redis = self.state.redis
        done = f"xs:wechat:done:{entry_id}"
        try:
            push = json.loads(fields.get("push", "{}"))
        except ValueError:
            push = {}
        openid = str(push.get("FromUserName") or "") if isinstance(push, dict) else ""
        try:
            async with self._lock(openid) if openid else contextlib.nullcontext():
                if openid and not await _retrying(lambda: redis.exists(done)):
                    await self._process_locked({str(k): str(v) for k, v in push.items()})
                await _retrying(lambda: redis.set(done, "1", ex=DONE_TTL_S))
                await _retrying(lambda: redis.xack(self.inbox, GROUP, entry_id))
                await _retrying(lambda: redis.xdel(self.inbox, entry_id))
        except RedisError as exc:  # left pending: answered again once Redis is back, or taken over
            log.warning("a WeChat push is not yet marked answered: %s", exc)
        finally:
            self._answering.discard(entry_id)

    # --- background processing ------------------------------------------------------------------
    def _lock(self, openid: str) -> asyncio.Lock:
        lock = self._locks.get(openid)
        if lock is None:
            lock = asyncio.Lock()
            self._locks[openid] = lock
        return lock

    async def _process_locked(self, fields: dict[str, str]) -> None:
        """Answer a push; the caller holds its user's lock (pushes of one user one at a time)."""
        openid = fields["FromUserName"]
        try:
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
            if exc.code == "message_too_long":
                await self._say(openid, TOO_LONG_REPLY.format(limit=self.state.chat.max_message_chars))
            else:
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
