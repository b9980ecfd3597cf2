"""The socket.io channel's pure parts: embedding origins and Rasa-compatible message shapes."""

from __future__ import annotations

import pytest

from connectors.gateway.channels.widget import allowed_origins, origin_allowed, rasa_shape
from connectors.gateway.settings import Settings

ENV = {"wsgi.url_scheme": "http", "HTTP_HOST": "127.0.0.1:8000"}


@pytest.mark.parametrize(
    ("origin", "ok"),
    [
        ("http://127.0.0.1:8000", True),  # the gateway's own pages
        ("https://www.sh.gov.cn", True),  # configured
        ("https://zwdt.sh.gov.cn/", True),  # configured, trailing slash
        ("https://evil.example", False),
        ("https://www.sh.gov.cn.evil.example", False),
        ("http://www.sh.gov.cn", False),  # wrong scheme
        (None, True),  # not a browser
    ],
)
def test_only_configured_origins_may_embed(origin: str | None, ok: bool) -> None:
    ws_env = {**ENV, "wsgi.url_scheme": "ws"}  # the websocket upgrade of the same page
    assert origin_allowed("http://127.0.0.1:8000", ws_env, frozenset())
    configured = allowed_origins(
        Settings(cors_allowed_origins="https://www.sh.gov.cn, https://zwdt.sh.gov.cn")
    )
    assert origin_allowed(origin, ENV, configured) is ok


def test_messages_keep_rasa_webchat_shapes() -> None:
    # rasa-webchat drops a message with any key beyond text / quick_replies.
    assert rasa_shape({"seq": 3, "text": "你好", "buttons": [], "custom": {}}) == {"text": "你好"}
    shaped = rasa_shape(
        {
            "seq": 4,
            "text": "选一个",
            "buttons": [{"title": "甲", "payload": "/a"}],
            "custom": {"card": {"type": "guide"}},
        }
    )
    assert shaped == {
        "text": "选一个",
        "quick_replies": [{"content_type": "text", "title": "甲", "payload": "/a"}],
    }
    assert rasa_shape({"seq": 5, "text": None, "buttons": [], "custom": {"rating": {"options": [1]}}}) == {
        "rating": {"options": [1]}
    }
    assert rasa_shape({"seq": 6, "text": None, "buttons": [], "custom": {}}) is None
