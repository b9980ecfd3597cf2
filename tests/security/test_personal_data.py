"""Personal data typed into 小申 never appears unmasked in any process's log (gateway, action
server, Rasa), whatever channel it came through."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from tests.socketio_client import Widget
from tools.chat_client import with_tokens
from tools.stack import Stack

ID_CARD = "310104198807153216"
MOBILE = "13917264853"
CARD = "6222021987654321"
EMAIL = "li.xiaomei@example.cn"


def test_personal_data_is_masked_in_every_log_of_the_stack(stack: Stack) -> None:
    texts = [f"我的身份证号是{ID_CARD}，居住证怎么办？",
             f"手机 {MOBILE[:3]}-{MOBILE[3:7]}-{MOBILE[7:]} 联系我",
             f"退款到卡号{CARD}，邮箱{EMAIL}", f"我要转人工，电话{MOBILE}"]
    with with_tokens(httpx.Client(base_url=stack.gateway_url, timeout=60)) as http:
        sender = f"pii-{uuid.uuid4().hex[:8]}"
        for text in texts:
            assert http.post("/api/chat", json={"sender_id": sender, "message": text}).status_code == 200
        left = http.post("/api/chat", json={"sender_id": sender, "message": "/leave_queue"})
        assert left.status_code == 200
    widget = Widget(stack.gateway_url)
    try:
        session = widget.session(None)
        widget.say(f"身份证 {ID_CARD[:6]} {ID_CARD[6:14]} {ID_CARD[14:]} 丢了", session)
    finally:
        widget.close()
    logs = sorted(Path(stack.run_dir).glob("*.log"))
    assert {p.stem for p in logs} >= {"gateway", "actions", "rasa"}
    text = "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in logs)
    assert "3101" in text, "the turns were logged (masked)"
    for secret in (ID_CARD, ID_CARD[6:14], MOBILE, MOBILE[3:7] + "-" + MOBILE[7:], CARD, "li.xiaomei"):
        assert secret not in text, f"{secret} is in a log"
