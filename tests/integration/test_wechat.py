"""The WeChat mini-program channel end to end: wechatpy plays WeChat's side (signing and
encrypting pushes), a local stand-in plays WeChat's server API, the real stack answers.

The gateway has an EncodingAESKey, so it takes safe-mode pushes only; plaintext pushes appear here
only to be refused (plaintext parsing and the push rules: tests/gateway/test_wechat_push_rules.py)."""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto

from tests.conftest import ARTIFACTS
from tests.integration.fakes import GATEWAYS, FakeWeChatApi, SlowRasa, extra_gateway
from tools.chat_client import with_tokens
from tools.stack import Stack

TOKEN = "xiaoshen-test-token"
AES_KEY = secrets.token_urlsafe(32)[:43].replace("-", "A").replace("_", "B")
APPID = "wx" + secrets.token_hex(8)  # fresh per run: the token cache in Redis starts empty
LOGS = ARTIFACTS / "stack-logs"


def _env(api: FakeWeChatApi, appid: str = APPID) -> dict[str, str]:
    """A gateway of the mini-program `appid`. Gateways of one mini-program share its inbox stream
    of accepted pushes, so a test gateway with a Rasa of its own is given an appid of its own."""
    return {
        "WECHAT_TOKEN": TOKEN,
        "WECHAT_AES_KEY": AES_KEY,
        "WECHAT_APPID": appid,
        "WECHAT_SECRET": "test-secret",
        "WECHAT_API_BASE": api.url,
    }


@pytest.fixture(scope="module")
def wechat_api() -> Iterator[FakeWeChatApi]:
    with FakeWeChatApi() as api:
        yield api


@pytest.fixture(scope="module")
def wechat(stack: Stack, wechat_api: FakeWeChatApi) -> Iterator[httpx.Client]:
    """A gateway configured for WeChat, talking to the stand-in API and the real bot."""
    with (
        extra_gateway(stack, LOGS, **_env(wechat_api)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def new_openid() -> str:
    return "o" + uuid.uuid4().hex[:27]


def _signed_query(extra: dict[str, str] | None = None) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(10**9))
    import hashlib

    sig = hashlib.sha1("".join(sorted([TOKEN, timestamp, nonce])).encode()).hexdigest()
    return {"signature": sig, "timestamp": timestamp, "nonce": nonce, **(extra or {})}


def push_plain(
    client: httpx.Client, fields: dict[str, Any], fmt: str = "xml", query: dict[str, str] | None = None
) -> httpx.Response:
    if fmt == "xml":
        body = xmltodict.unparse({"xml": fields}, full_document=False)
        headers = {"Content-Type": "text/xml"}
    else:
        body = json.dumps(fields, ensure_ascii=False)
        headers = {"Content-Type": "application/json"}
    params = query or _signed_query({"openid": str(fields.get("FromUserName", ""))})
    return client.post("/wechat/miniprogram", params=params, content=body.encode(), headers=headers)


def push_safe(
    client: httpx.Client, fields: dict[str, Any], fmt: str = "json", appid: str = APPID, tamper: bool = False
) -> httpx.Response:
    """Safe mode as WeChat sends it: the message encrypted by wechatpy, msg_signature over it."""
    inner = (
        json.dumps(fields, ensure_ascii=False)
        if fmt == "json"
        else xmltodict.unparse({"xml": fields}, full_document=False)
    )
    query = _signed_query({"openid": str(fields["FromUserName"]), "encrypt_type": "aes"})
    out = xmltodict.parse(
        WeChatCrypto(TOKEN, AES_KEY, appid).encrypt_message(inner, query["nonce"], query["timestamp"])
    )["xml"]
    query["msg_signature"] = ("0" * 40) if tamper else out["MsgSignature"]
    if fmt == "json":
        body = json.dumps({"ToUserName": "gh_test", "Encrypt": out["Encrypt"]})
    else:
        encrypt = out["Encrypt"]
        body = f"<xml><ToUserName>gh_test</ToUserName><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"
    return client.post("/wechat/miniprogram", params=query, content=body.encode())


def text_push(openid: str, content: str) -> dict[str, Any]:
    return {
        "ToUserName": "gh_test",
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": content,
        "MsgId": str(secrets.randbelow(10**18)),
    }


def assert_error(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["error"]["code"] == code and body["error"]["message"]


def test_url_verification_echoes_only_with_the_right_signature(wechat: httpx.Client) -> None:
    ok = wechat.get("/wechat/miniprogram", params={**_signed_query(), "echostr": "echo-123"})
    assert ok.status_code == 200 and ok.text == "echo-123"
    forged = wechat.get(
        "/wechat/miniprogram", params={**_signed_query(), "echostr": "x"} | {"signature": "0" * 40}
    )
    assert_error(forged, 403, "invalid_signature")


def test_xml_question_is_answered_and_a_number_picks_a_choice(
    wechat: httpx.Client, wechat_api: FakeWeChatApi
) -> None:
    openid = new_openid()
    started = time.perf_counter()
    resp = push_safe(wechat, text_push(openid, "开公司要带什么材料？"), fmt="xml")
    assert resp.status_code == 200 and resp.text == "success"
    assert time.perf_counter() - started < 5
    [answer] = wechat_api.wait_sends(openid, 1)
    assert "企业设立登记" in answer and "材料" in answer
    assert re.search(r"^1\. ", answer, re.M), "materials and choices are numbered"
    assert "回复 1 / 2 / 3" in answer
    assert "**" not in answer and "\n- " not in answer
    assert wechat_api.typings(openid) >= 1, "typing status was shown while the bot thought"

    menu = dict(re.findall(r"^(\d+)\. (.+)$", answer.split("回复 1")[0].split("\n\n")[-1], re.M))
    pick = menu["2"]
    push_safe(wechat, text_push(openid, "2"), fmt="xml")
    second = wechat_api.wait_sends(openid, 2)[1]
    assert f"】{pick}" in second, f"reply 2 should answer {pick!r}: {second[:80]!r}"


def test_safe_mode_json_push_retried_three_times_is_answered_once(
    wechat: httpx.Client, wechat_api: FakeWeChatApi
) -> None:
    openid = new_openid()
    push = text_push(openid, "公积金租房提取多久到账？")
    for _ in range(4):  # WeChat's first try and its 3 retries
        resp = push_safe(wechat, push, fmt="json")
        assert resp.status_code == 200 and resp.text == "success"
    [answer] = wechat_api.wait_sends(openid, 1)
    assert "公积金" in answer
    time.sleep(3)
    assert len(wechat_api.sends(openid)) == 1, "a retried MsgId was answered twice"


def test_safe_mode_xml_push_is_understood(wechat: httpx.Client, wechat_api: FakeWeChatApi) -> None:
    openid = new_openid()
    assert push_safe(wechat, text_push(openid, "你好"), fmt="xml").text == "success"
    [answer] = wechat_api.wait_sends(openid, 1)
    assert "小申" in answer


def test_forged_or_foreign_pushes_get_403_and_no_answer(
    wechat: httpx.Client, wechat_api: FakeWeChatApi
) -> None:
    openid = new_openid()
    forged = push_plain(wechat, text_push(openid, "你好"), query={**_signed_query(), "signature": "f" * 40})
    assert_error(forged, 403, "invalid_signature")
    # Correctly signed but in plaintext: with a key set only encrypted pushes are taken.
    assert_error(push_plain(wechat, text_push(openid, "你好")), 403, "encryption_required")
    assert_error(push_safe(wechat, text_push(openid, "你好"), tamper=True), 403, "invalid_signature")
    assert_error(
        push_safe(wechat, text_push(openid, "你好"), appid="wx0000000000000000"), 403, "invalid_encryption"
    )
    bad = wechat.post("/wechat/miniprogram", params=_signed_query(), content=b"{not json")
    assert_error(bad, 400, "invalid_body")
    time.sleep(2)
    assert wechat_api.sends(openid) == []


def test_enter_session_image_and_card(wechat: httpx.Client, wechat_api: FakeWeChatApi) -> None:
    openid = new_openid()
    now = int(time.time())
    push_safe(
        wechat,
        {
            "ToUserName": "gh_test",
            "FromUserName": openid,
            "CreateTime": now,
            "MsgType": "event",
            "Event": "user_enter_tempsession",
            "SessionFrom": "guide",
        },
        fmt="json",
    )
    [greeting] = wechat_api.wait_sends(openid, 1)
    assert "小申" in greeting
    push_safe(
        wechat,
        {
            "ToUserName": "gh_test",
            "FromUserName": openid,
            "CreateTime": now + 1,
            "MsgType": "image",
            "PicUrl": "http://127.0.0.1/x.jpg",
            "MediaId": "m1",
            "MsgId": str(secrets.randbelow(10**18)),
        },
        fmt="xml",
    )
    image_reply = wechat_api.wait_sends(openid, 2)[1]
    assert "图片" in image_reply and "文字" in image_reply
    push_safe(
        wechat,
        {
            "ToUserName": "gh_test",
            "FromUserName": openid,
            "CreateTime": now + 2,
            "MsgType": "miniprogrampage",
            "Title": "老年综合津贴申领",
            "AppId": APPID,
            "PagePath": "pages/guide?id=elder-allowance",
            "ThumbUrl": "",
            "ThumbMediaId": "t",
            "MsgId": str(secrets.randbelow(10**18)),
        },
        fmt="json",
    )
    card_reply = wechat_api.wait_sends(openid, 3)[2]
    assert "津贴" in card_reply


def test_refused_send_is_queued_and_delivered_with_the_next_message(
    wechat: httpx.Client, wechat_api: FakeWeChatApi
) -> None:
    openid = new_openid()
    wechat_api.refuse.append(45047)  # quota reached for the next send
    push_safe(wechat, text_push(openid, "开公司要带什么材料？"))
    deadline = time.time() + 30
    while time.time() < deadline and not any(
        c["errcode"] == 45047 for c in wechat_api.calls if c["body"].get("touser") == openid
    ):
        time.sleep(0.1)
    assert wechat_api.sends(openid) == []
    push_safe(wechat, text_push(openid, "你好"))
    delivered = wechat_api.wait_sends(openid, 2)
    assert delivered[0].startswith("您有未读消息") and "企业设立登记" in delivered[0]
    assert "小申" in delivered[1]


def test_access_token_is_fetched_once_and_reused(wechat_api: FakeWeChatApi) -> None:
    assert any(c["path"].endswith("/custom/send") for c in wechat_api.calls)
    assert wechat_api.token_requests == 1
    assert {c["token"] for c in wechat_api.calls} == {"TOKEN-1"}


def test_push_is_acknowledged_within_5_seconds_while_the_bot_is_slow(stack: Stack) -> None:
    appid = "wx" + secrets.token_hex(8)
    with (
        FakeWeChatApi() as api,
        SlowRasa(delay_s=8, text="慢慢回答：您好") as rasa,
        extra_gateway(stack, LOGS, RASA_URL=rasa.url, **_env(api, appid)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        openid = new_openid()
        started = time.perf_counter()
        resp = push_safe(client, text_push(openid, "你好"), appid=appid)
        elapsed = time.perf_counter() - started
        assert resp.status_code == 200 and resp.text == "success"
        assert elapsed < 5, f"acknowledged after {elapsed:.1f} s"
        assert api.sends(openid) == []
        [answer] = api.wait_sends(openid, 1, timeout_s=30)
        assert answer == "慢慢回答：您好"


def test_a_push_acknowledged_just_before_its_gateway_dies_is_answered_after_a_restart(stack: Stack) -> None:
    """The push is in Redis before WeChat hears "success": the gateway is killed (SIGKILL) while
    the turn waits for Rasa, and the gateway started in its place answers it, once."""
    appid = "wx" + secrets.token_hex(8)
    with FakeWeChatApi() as api, SlowRasa(delay_s=3, text="稍后回答：您好") as rasa:
        # The dead gateway's turn lock on the conversation lasts the turn timeout + 5 s: kept short.
        env = {"RASA_URL": rasa.url, "RASA_TIMEOUT_S": "6", "WECHAT_RECLAIM_IDLE_S": "2", **_env(api, appid)}
        openid = new_openid()
        with extra_gateway(stack, LOGS, **env) as url:
            resp = push_safe(httpx.Client(base_url=url, timeout=30), text_push(openid, "你好"), appid=appid)
            assert resp.status_code == 200 and resp.text == "success"
            deadline = time.monotonic() + 5
            while rasa.calls == 0:  # the gateway took the push and waits for the (slow) answer
                assert time.monotonic() < deadline, "the push was never taken"
                time.sleep(0.05)
            os.killpg(GATEWAYS[url].pid, signal.SIGKILL)
        assert api.sends(openid) == []
        with extra_gateway(stack, LOGS, **env):
            [answer] = api.wait_sends(openid, 1, timeout_s=40)
            assert answer == "稍后回答：您好"
            time.sleep(4)  # two claim rounds more: it is not answered a second time
            assert api.sends(openid) == ["稍后回答：您好"]


async def test_agent_replies_reach_wechat_within_the_5_message_window(
    stack: Stack, wechat_api: FakeWeChatApi
) -> None:
    """The Outbox pusher: an agent's messages go out through custom/send; the 5th slot asks the
    user to reply, the rest wait for the user's next message."""
    from types import SimpleNamespace

    import redis.asyncio as aioredis
    from pydantic import SecretStr

    from connectors.gateway.conversations import ConversationStore
    from connectors.gateway.settings import Settings
    from connectors.gateway.wechat.service import MORE_WAITING, WeChatService

    redis = aioredis.Redis.from_url(stack.effective_redis_url, decode_responses=True)
    settings = Settings(
        wechat_token=SecretStr(TOKEN),
        wechat_aes_key=SecretStr(AES_KEY),
        wechat_appid=APPID,
        wechat_secret=SecretStr("test-secret"),
        wechat_api_base=wechat_api.url,
    )
    service = WeChatService(SimpleNamespace(settings=settings, redis=redis, store=ConversationStore(redis)))
    openid = new_openid()
    try:
        await service._user_spoke(openid)  # the user wrote: a new 48 h window
        for n in range(1, 8):
            entry = {"seq": n, "ts": 0.0, "role": "agent", "text": f"第{n}条", "buttons": [], "custom": {}}
            await service.push(f"wx-{openid}", entry)  # type: ignore[arg-type]
        sent = wechat_api.sends(openid)
        assert sent == [*(f"【人工客服】第{n}条" for n in range(1, 5)), MORE_WAITING]
        await service._user_spoke(openid)  # the user replied: what waited arrives first
        waiting = wechat_api.sends(openid)[-1]
        assert waiting.startswith("您有未读消息") and all(f"第{n}条" in waiting for n in (5, 6, 7))
    finally:
        await service.close()
        await redis.aclose()


def test_a_declaration_paused_on_the_web_resumes_on_wechat_with_its_code(
    stack: Stack, wechat: httpx.Client, wechat_api: FakeWeChatApi
) -> None:
    sender = "web-" + uuid.uuid4().hex[:10]
    with with_tokens(httpx.Client(base_url=stack.gateway_url, timeout=60)) as web:
        def say(message: str) -> dict[str, Any]:
            resp = web.post("/api/chat", json={"sender_id": sender, "message": message, "channel": "web"})
            assert resp.status_code == 200, resp.text
            return resp.json()  # type: ignore[no-any-return]

        say("帮我申报老年综合津贴")
        say("不同意")
        paused = say("先暂停，晚点再办")
    assert paused["turn"]["declaration"]["status"] == "paused"
    code = "\n".join(m["text"] or "" for m in paused["messages"]).split("续办码：", 1)[1][:6]
    openid = new_openid()
    push_safe(wechat, text_push(openid, f"续办 {code}"), fmt="xml")
    [resumed] = wechat_api.wait_sends(openid, 1)
    assert "恢复" in resumed and "老人本人申请" in resumed
    assert re.search(r"^2\. 子女或他人代办$", resumed, re.M), "choices are numbered for 回复 1/2"
    push_safe(wechat, text_push(openid, "2"), fmt="xml")
    second = wechat_api.wait_sends(openid, 2)[1]
    assert "老人的姓名" in second, second[:120]
