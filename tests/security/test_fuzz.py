"""Fuzzing: schemathesis generates requests for every operation of the OpenAPI document (valid
and not), hypothesis throws arbitrary bodies at the WeChat endpoint and arbitrary events at the
socket.io server. Only 2xx/3xx/4xx answers with the error shape are allowed, never a 5xx or a
crash. The gateway runs in-process on a real Redis (Rasa scripted: the fuzz is about the gateway)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st

from connectors.gateway.app import create_app
from connectors.gateway.settings import Settings
from tests.handoff.conftest import ADMIN
from tests.security.conftest import MakeGateway

SCHEMA = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
SEEN: Counter[str] = Counter()  # status classes, for docs/benchmarks.md
EXAMPLES = 30
FAST = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


def assert_well_formed(resp: Any, where: str) -> None:
    SEEN[f"{resp.status_code // 100}xx"] += 1
    if where == "GET /health":  # the contract's 503: no action server in this in-process gateway
        assert resp.status_code in (200, 503) and resp.json()["components"]
        return
    assert resp.status_code < 500, f"{where}: {resp.status_code} {resp.text[:300]}"
    if resp.status_code >= 400:
        error = resp.json()["error"]
        assert isinstance(error["code"], str) and error["code"]
        assert isinstance(error["message"], str) and error["message"], where


@pytest.fixture
def gw(gateway_with: MakeGateway) -> Any:
    gw = gateway_with(xs_rate_limits="off", wechat_token="fuzz-token")
    gw.add_user("fuzz-agent", ["agent"])
    gw.chat("u1", "转人工")  # some state for the routes to find
    return gw


@pytest.mark.parametrize("operation", [op.ok() for op in SCHEMA.get_all_operations()],  # type: ignore[union-attr]
                         ids=lambda op: f"{op.method.upper()} {op.path}")
def test_every_operation_answers_well_formed(gw: Any, operation: Any) -> None:
    admin = gw.auth(ADMIN[0])

    @FAST
    @given(case=operation.as_strategy(), authed=st.booleans())
    def check(case: Any, authed: bool) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        headers = {k: v for k, v in kwargs.pop("headers").items() if k.lower() not in ("connection",)}
        if authed:
            headers.update(admin)
        kwargs.pop("cookies", None)
        try:
            resp = gw.client.request(kwargs.pop("method"), kwargs.pop("url"), headers=headers, **kwargs)
        except (httpx.InvalidURL, httpx.LocalProtocolError, UnicodeEncodeError):
            reject()  # no HTTP client can send this (a control character in the URL or a header)
        assert_well_formed(resp, f"{case.method} {case.formatted_path}")

    check()


WECHAT_FIELDS = st.dictionaries(
    st.sampled_from(["ToUserName", "FromUserName", "CreateTime", "MsgType", "Content", "MsgId", "Event",
                     "Encrypt", "PicUrl", "SessionFrom"]),
    st.one_of(st.text(max_size=50), st.integers(), st.none()), max_size=8)


@FAST
@given(body=st.one_of(st.binary(max_size=400), WECHAT_FIELDS.map(lambda d: json.dumps(d).encode()),
                      WECHAT_FIELDS.map(lambda d: ("<xml>" + "".join(
                          f"<{k}><![CDATA[{v}]]></{k}>" for k, v in d.items()) + "</xml>").encode())),
       query=st.dictionaries(st.sampled_from(["signature", "timestamp", "nonce", "openid", "msg_signature",
                                              "encrypt_type", "echostr"]), st.text(max_size=40), max_size=7))
def test_wechat_push_never_crashes(gateway_with_wechat: Any, body: bytes, query: dict[str, str]) -> None:
    resp = gateway_with_wechat.client.post("/wechat/miniprogram", params=query, content=body)
    assert_well_formed(resp, "POST /wechat/miniprogram")
    resp = gateway_with_wechat.client.get("/wechat/miniprogram", params=query)
    assert_well_formed(resp, "GET /wechat/miniprogram")


@pytest.fixture(scope="module")
def gateway_with_wechat(redis_server: str) -> Any:
    from fastapi.testclient import TestClient

    from connectors.gateway.state import AppState
    from tests.handoff.conftest import Gateway, ScriptedRasa

    rasa = ScriptedRasa()
    settings_ = Settings(redis_url=redis_server, wechat_token="fuzz-token",  # type: ignore[arg-type]
                         wechat_aes_key="jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C",  # type: ignore[arg-type]
                         wechat_appid="wx5823bf96d3bd56c7", rasa_url="http://127.0.0.1:9")
    client = TestClient(create_app(settings_, make_state=lambda s: AppState.create(s, rasa=rasa)))  # type: ignore[arg-type]
    with client:
        yield Gateway(client, rasa)


EVENTS = st.sampled_from(["session_request", "user_uttered", "xs_history", "unknown_event"])
PAYLOADS = st.recursive(st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=30)),
                        lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                st.dictionaries(st.sampled_from(
                                                    ["session_id", "message", "client_id", "after",
                                                     "conversation_token", "customData"]),
                                                    inner, max_size=4)),
                        max_leaves=8)


def test_socketio_events_never_crash_the_server(stack: Any) -> None:
    from tests.socketio_client import Widget

    widget = Widget(stack.gateway_url)
    try:
        widget.session(None)

        @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
        @given(event=EVENTS, payload=PAYLOADS)
        def check(event: str, payload: Any) -> None:
            if event == "unknown_event":
                widget.client.emit(event, payload)
                return
            ack = widget.client.call(event, payload, timeout=30) if event != "session_request" else None
            if event == "session_request":
                widget.client.emit(event, payload)
            if ack is not None:
                assert isinstance(ack, dict) and ("ok" in ack), ack
                if not ack["ok"]:
                    assert ack["error"]["code"] and ack["error"]["message"]

        check()
        assert widget.client.connected, "the server kept the connection"
        health = httpx.get(stack.gateway_url + "/health").json()
        assert health["status"] == "ok"
    finally:
        widget.close()


def test_report_counts() -> None:
    """Prints what the fuzz saw (run last in this module)."""
    print("fuzz status classes:", dict(SEEN))
