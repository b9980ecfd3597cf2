"""The push endpoint as an attacker meets it: the real gateway app over a real Redis, wechatpy
signing and encrypting as WeChat does, a stand-in for WeChat's server API and an echoing Rasa.

Every refused push is followed by a genuine one from the same user (`answered_only`): replies are
sent one at a time per user in arrival order, so had the refused push been taken, its answer would
arrive first.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis as sync_redis
import xmltodict
from fastapi.testclient import TestClient
from pydantic import SecretStr
from wechatpy.crypto import WeChatCrypto

from connectors.gateway.app import create_app
from connectors.gateway.rasa_client import RasaClient
from connectors.gateway.settings import Settings
from connectors.gateway.state import AppState
from connectors.gateway.wechat.crypto import signature
from connectors.gateway.wechat.service import NONCE_TTL_S, PushRejected, check_timestamp
from tests.integration.fakes import FakeWeChatApi
from tests.redis_server import RedisServer

TOKEN = "push-rules-token"
AES_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
APPID = "wx49f0ab532d5d035a"
LIMIT = 2000  # settings.max_message_chars
TURN = {"outcome": "smalltalk", "intent": "greet", "confidence": 1.0, "candidates": []}


class EchoRasa(RasaClient):
    """Rasa's REST channel, answering each turn with what it was sent; records every turn."""

    def __init__(self) -> None:
        super().__init__("http://127.0.0.1:9", "", 1.0)
        self.received: list[str] = []

    async def send(self, sender_id: str, message: str) -> list[dict[str, Any]]:
        self.received.append(message)
        return [{"text": f"收到：{message[:40]}"}, {"custom": {"turn": TURN}}]

    async def ping(self) -> bool:
        return True


@dataclass
class Gateway:
    client: TestClient
    rasa: EchoRasa
    api: FakeWeChatApi
    redis: sync_redis.Redis
    safe_mode: bool

    def post(self, query: dict[str, str], body: bytes) -> httpx.Response:
        return self.client.post("/wechat/miniprogram", params=query, content=body)

    def nonce_keys(self) -> list[str]:
        return sorted(self.redis.scan_iter("xs:wechat:nonce:*"))


@pytest.fixture(scope="module")
def wechat_api() -> Iterator[FakeWeChatApi]:
    with FakeWeChatApi() as api:
        yield api


@contextmanager
def gateway(redis_url: str, api: FakeWeChatApi, aes_key: str) -> Iterator[Gateway]:
    rasa = EchoRasa()
    settings = Settings(
        redis_url=redis_url, rasa_url="http://127.0.0.1:9", actions_url="http://127.0.0.1:9",
        wechat_token=SecretStr(TOKEN), wechat_aes_key=SecretStr(aes_key), wechat_appid=APPID,
        wechat_secret=SecretStr("test-secret"), wechat_api_base=api.url, max_message_chars=LIMIT,
    )
    app = create_app(settings, make_state=lambda s: AppState.create(s, rasa=rasa))
    store = sync_redis.Redis.from_url(redis_url, decode_responses=True)
    with TestClient(app) as client:
        yield Gateway(client, rasa, api, store, safe_mode=bool(aes_key))
    store.close()


@pytest.fixture
def safe(redis_url: str, wechat_api: FakeWeChatApi) -> Iterator[Gateway]:
    """A gateway in safe mode (WECHAT_AES_KEY set)."""
    with gateway(redis_url, wechat_api, AES_KEY) as g:
        yield g


@pytest.fixture
def plain(redis_url: str, wechat_api: FakeWeChatApi) -> Iterator[Gateway]:
    """A gateway without an EncodingAESKey: plaintext pushes."""
    with gateway(redis_url, wechat_api, "") as g:
        yield g


def new_openid() -> str:
    return "o" + uuid.uuid4().hex[:27]


def text_push(openid: str, content: str) -> dict[str, Any]:
    return {"ToUserName": "gh_test", "FromUserName": openid, "CreateTime": int(time.time()),
            "MsgType": "text", "Content": content, "MsgId": str(secrets.randbelow(10**18))}


def signed(timestamp: str | None = None, nonce: str | None = None, token: str = TOKEN) -> dict[str, str]:
    """The query WeChat puts on a push (plaintext mode): signature over token, timestamp, nonce."""
    ts = str(int(time.time())) if timestamp is None else timestamp
    nonce = nonce or str(secrets.randbelow(10**9))
    return {"signature": signature(token, ts, nonce), "timestamp": ts, "nonce": nonce}


def safe_push(fields: dict[str, Any], query: dict[str, str] | None = None, token: str = TOKEN,
              appid: str = APPID) -> tuple[dict[str, str], bytes]:
    """A safe-mode push as WeChat sends it: wechatpy encrypts, msg_signature covers the ciphertext."""
    q = query or signed(token=token)
    out = xmltodict.parse(WeChatCrypto(token, AES_KEY, appid).encrypt_message(
        json.dumps(fields, ensure_ascii=False), q["nonce"], q["timestamp"]))["xml"]
    msg_signature = out["MsgSignature"]
    if out["TimeStamp"] != q["timestamp"]:  # wechatpy signs the time of day instead of an empty one
        msg_signature = signature(token, q["timestamp"], q["nonce"], out["Encrypt"])
    query = {**q, "openid": str(fields["FromUserName"]), "encrypt_type": "aes",
             "msg_signature": msg_signature}
    return query, json.dumps({"ToUserName": "gh_test", "Encrypt": out["Encrypt"]}).encode()


def plain_body(fields: dict[str, Any], fmt: str = "json") -> bytes:
    if fmt == "xml":
        return str(xmltodict.unparse({"xml": fields}, full_document=False)).encode()
    return json.dumps(fields, ensure_ascii=False).encode()


def genuine(g: Gateway, fields: dict[str, Any]) -> tuple[dict[str, str], bytes]:
    """A push of the kind this gateway takes."""
    if g.safe_mode:
        return safe_push(fields)
    return signed(), plain_body(fields)


def assert_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    error = resp.json()["error"]
    assert error["code"] == code and " / " in error["message"], error


def assert_success(resp: httpx.Response) -> None:
    assert (resp.status_code, resp.text) == (200, "success"), resp.text


def answered_only(g: Gateway, openid: str, *expected: str) -> None:
    """Send a genuine "还在吗" from the user: the user was sent answers to `expected` then to it, and
    the bot saw nothing else."""
    query, body = genuine(g, text_push(openid, "还在吗"))
    assert_success(g.post(query, body))
    sent = g.api.wait_sends(openid, len(expected) + 1)
    assert sent == [f"收到：{text}" for text in (*expected, "还在吗")]
    assert g.rasa.received == [*expected, "还在吗"]


def history(g: Gateway, openid: str) -> list[str]:
    return [json.loads(e)["text"] for e in g.redis.lrange(f"xs:conv:wx-{openid}:log", 0, -1)]


# --- downgrade ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make_body",
    [
        lambda fields: plain_body(fields, "xml"),
        lambda fields: plain_body(fields, "json"),
        lambda fields: plain_body({**fields, "Encrypt": ""}, "json"),
    ],
    ids=["xml", "json", "json-empty-Encrypt"],
)
def test_a_plaintext_push_is_refused_when_a_key_is_set(safe: Gateway,
                                                       make_body: Callable[[dict[str, Any]], bytes]) -> None:
    openid = new_openid()
    # What an eavesdropper holds: a genuine safe-mode push. Its `signature` is a valid plaintext
    # signature, so dropping encrypt_type and msg_signature makes a well-signed plaintext push.
    query, _ = safe_push(text_push(openid, "你好"))
    downgraded = {k: v for k, v in query.items() if k not in ("encrypt_type", "msg_signature")}
    resp = safe.post(downgraded, make_body(text_push(openid, "请把办理进度发到这个链接")))
    assert_error(resp, 403, "encryption_required")
    assert safe.nonce_keys() == [], "a refused push must not use up its nonce"
    answered_only(safe, openid)
    assert history(safe, openid) == ["还在吗", "收到：还在吗"]


def test_plaintext_claiming_safe_mode_is_refused(safe: Gateway) -> None:
    openid = new_openid()
    query, _ = safe_push(text_push(openid, "你好"))
    resp = safe.post(query, plain_body(text_push(openid, "请把办理进度发到这个链接")))
    assert_error(resp, 403, "invalid_signature")  # msg_signature covers an Encrypt it lacks
    answered_only(safe, openid)


def test_without_a_key_a_plaintext_push_is_answered(plain: Gateway) -> None:
    openid = new_openid()
    assert_success(plain.post(signed(), plain_body(text_push(openid, "开公司要带什么材料？"), "xml")))
    answered_only(plain, openid, "开公司要带什么材料？")


# --- timestamps ---------------------------------------------------------------------------------
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
STALE: dict[str, Callable[[int], str]] = {
    "310s-old": lambda now: str(now - 310),
    "310s-ahead": lambda now: str(now + 310),
    "a-day-old": lambda now: str(now - 86400),
    "a-year-ahead": lambda now: str(now + 365 * 86400),
    "milliseconds": lambda now: str(now * 1000),
    "zero": lambda now: "0",
    "empty": lambda now: "",
    "words": lambda now: "now",
    "negative": lambda now: f"-{now}",
    "fraction": lambda now: f"{now}.0",
    "padded": lambda now: f" {now}",
    "fullwidth-digits": lambda now: str(now).translate(FULLWIDTH),
}


@pytest.mark.parametrize("timestamp", STALE.values(), ids=STALE.keys())
def test_a_push_outside_the_5_minute_window_is_refused(safe: Gateway,
                                                       timestamp: Callable[[int], str]) -> None:
    openid = new_openid()
    query, body = safe_push(text_push(openid, "你好"), query=signed(timestamp(int(time.time()))))
    assert_error(safe.post(query, body), 403, "stale_push")
    assert safe.nonce_keys() == []
    answered_only(safe, openid)


@pytest.mark.parametrize("offset", [-290, 290])
def test_a_push_inside_the_window_is_taken(safe: Gateway, offset: int) -> None:
    openid = new_openid()
    query, body = safe_push(text_push(openid, "你好"), query=signed(str(int(time.time()) + offset)))
    assert_success(safe.post(query, body))
    answered_only(safe, openid, "你好")


def test_a_stale_plaintext_push_is_refused(plain: Gateway) -> None:
    openid = new_openid()
    resp = plain.post(signed(str(int(time.time()) - 3600)), plain_body(text_push(openid, "你好")))
    assert_error(resp, 403, "stale_push")
    answered_only(plain, openid)


def test_the_url_check_refuses_stale_and_forged_requests(safe: Gateway) -> None:
    def check(query: dict[str, str]) -> httpx.Response:
        return safe.client.get("/wechat/miniprogram", params={**query, "echostr": "echo-42"})

    ok = check(signed())
    assert (ok.status_code, ok.text) == (200, "echo-42")
    assert_error(check(signed(str(int(time.time()) - 301))), 403, "stale_push")
    assert_error(check(signed(str(int(time.time()) + 3600))), 403, "stale_push")
    assert_error(check(signed("yesterday")), 403, "stale_push")
    assert_error(check({**signed(), "signature": "0" * 40}), 403, "invalid_signature")


@pytest.mark.parametrize(
    ("timestamp", "now", "ok"),
    [("1000", 1300.0, True), ("1000", 1300.001, False), ("1000", 700.0, True), ("1000", 699.999, False),
     ("1000", 1000.0, True)],
)
def test_the_window_is_300_seconds_either_way(timestamp: str, now: float, ok: bool) -> None:
    if ok:
        check_timestamp(timestamp, now)
    else:
        with pytest.raises(PushRejected) as refused:
            check_timestamp(timestamp, now)
        assert (refused.value.status, refused.value.code) == (403, "stale_push")


# --- replayed nonces ----------------------------------------------------------------------------
def test_a_nonce_used_again_for_another_message_is_refused(plain: Gateway) -> None:
    """Plaintext mode's signature does not cover the body: a captured query would sign anything."""
    openid = new_openid()
    query = signed()
    assert_success(plain.post(query, plain_body(text_push(openid, "第一条"))))
    resp = plain.post(query, plain_body(text_push(openid, "请点击链接领取补贴")))
    assert_error(resp, 403, "replayed_push")
    [key] = plain.nonce_keys()
    assert key == f"xs:wechat:nonce:{query['timestamp']}:{query['nonce']}"
    assert NONCE_TTL_S - 5 <= plain.redis.ttl(key) <= NONCE_TTL_S and NONCE_TTL_S > 600
    answered_only(plain, openid, "第一条")


def test_a_nonce_used_again_in_safe_mode_is_refused(safe: Gateway) -> None:
    openid = new_openid()
    query = signed()
    assert_success(safe.post(*safe_push(text_push(openid, "第一条"), query=query)))
    resp = safe.post(*safe_push(text_push(openid, "第二条"), query=query))
    assert_error(resp, 403, "replayed_push")
    answered_only(safe, openid, "第一条")


def test_the_replay_is_refused_by_another_gateway_process_too(redis_url: str,
                                                              wechat_api: FakeWeChatApi) -> None:
    openid = new_openid()
    query = signed()
    with gateway(redis_url, wechat_api, "") as first:
        assert_success(first.post(query, plain_body(text_push(openid, "第一条"))))
        first.api.wait_sends(openid, 1)
    with gateway(redis_url, wechat_api, "") as second:
        assert_error(second.post(query, plain_body(text_push(openid, "第二条"))), 403, "replayed_push")
        assert second.rasa.received == []


def test_a_retry_with_the_same_nonce_is_acknowledged_and_answered_once(safe: Gateway) -> None:
    """WeChat retries a push it got no "success" for; the retry may carry the same query."""
    openid = new_openid()
    query, body = safe_push(text_push(openid, "公积金怎么提取？"))
    for _ in range(4):
        assert_success(safe.post(query, body))
    answered_only(safe, openid, "公积金怎么提取？")
    assert safe.rasa.received.count("公积金怎么提取？") == 1


def test_a_retry_with_a_new_nonce_is_acknowledged_and_answered_once(safe: Gateway) -> None:
    openid = new_openid()
    push = text_push(openid, "公积金怎么提取？")
    for _ in range(4):
        assert_success(safe.post(*safe_push(push)))
    answered_only(safe, openid, "公积金怎么提取？")
    assert safe.rasa.received.count("公积金怎么提取？") == 1


def test_a_push_answered_503_while_redis_was_down_is_taken_when_retried(
    tmp_path: Path, wechat_api: FakeWeChatApi
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        with gateway(server.url, wechat_api, AES_KEY) as g:
            openid = new_openid()
            query, body = safe_push(text_push(openid, "你好"))
            server.stop()
            assert_error(g.post(query, body), 503, "redis_unavailable")
            server.start()
            assert_success(g.post(query, body))  # WeChat's retry: the same query and body
            answered_only(g, openid, "你好")
    finally:
        server.stop()


# --- forged signatures --------------------------------------------------------------------------
def _forged(kind: str, openid: str) -> tuple[dict[str, str], bytes]:
    query, body = safe_push(text_push(openid, "转账给我"))
    if kind == "zero-signature":
        return {**query, "msg_signature": "0" * 40}, body
    if kind == "no-signature":
        return {k: v for k, v in query.items() if k != "msg_signature"}, body
    if kind == "another-token":
        return safe_push(text_push(openid, "转账给我"), token="not-our-token")
    if kind == "re-dated":  # a captured old push given a fresh timestamp
        old, body = safe_push(text_push(openid, "转账给我"), query=signed(str(int(time.time()) - 3600)))
        return {**old, "timestamp": str(int(time.time()))}, body
    if kind == "new-nonce":  # a captured push given a new nonce to pass the replay check
        return {**query, "nonce": str(int(query["nonce"]) + 1)}, body
    if kind == "swapped-ciphertext":  # someone else's genuine ciphertext under this push's signature
        _, other = safe_push(text_push(new_openid(), "转账给我"))
        return query, other
    raise AssertionError(kind)


@pytest.mark.parametrize(
    "kind", ["zero-signature", "no-signature", "another-token", "re-dated", "new-nonce", "swapped-ciphertext"]
)
def test_a_forged_safe_mode_push_is_refused(safe: Gateway, kind: str) -> None:
    openid = new_openid()
    assert_error(safe.post(*_forged(kind, openid)), 403, "invalid_signature")
    assert safe.nonce_keys() == []
    answered_only(safe, openid)


def test_a_push_encrypted_for_another_mini_program_is_refused(safe: Gateway) -> None:
    openid = new_openid()
    resp = safe.post(*safe_push(text_push(openid, "你好"), appid="wx0000000000000000"))
    assert_error(resp, 403, "invalid_encryption")
    answered_only(safe, openid)


def test_a_forged_plaintext_push_is_refused(plain: Gateway) -> None:
    openid = new_openid()
    resp = plain.post({**signed(), "signature": "f" * 40}, plain_body(text_push(openid, "你好")))
    assert_error(resp, 403, "invalid_signature")
    answered_only(plain, openid)


# --- message length -----------------------------------------------------------------------------
def test_a_too_long_message_gets_a_polite_reply_and_reaches_nobody(safe: Gateway) -> None:
    openid = new_openid()
    assert_success(safe.post(*safe_push(text_push(openid, "办" * (LIMIT + 1)))))
    [reply] = safe.api.wait_sends(openid, 1)
    assert f"{LIMIT} 个字" in reply and "分几次发送" in reply and " / " not in reply
    assert safe.rasa.received == []
    assert history(safe, openid) == []  # nothing stored: the chat service's rules refused it
    query, body = safe_push(text_push(openid, "还在吗"))
    assert_success(safe.post(query, body))
    assert safe.api.wait_sends(openid, 2)[1] == "收到：还在吗"


def test_a_message_at_the_limit_reaches_the_bot(safe: Gateway) -> None:
    openid = new_openid()
    text = "办" * LIMIT
    assert_success(safe.post(*safe_push(text_push(openid, f"  {text}\n"))))
    safe.api.wait_sends(openid, 1)
    assert safe.rasa.received == [text]
