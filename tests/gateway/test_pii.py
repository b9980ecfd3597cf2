"""身份证号 and 手机号 never reach the logs in clear."""

from __future__ import annotations

import json
import logging

import pytest

from connectors.gateway.logs import JsonFormatter
from connectors.gateway.pii import mask_pii


@pytest.mark.parametrize(("raw", "masked"), [
    ("我的身份证310101199001011234", "我的身份证3101**********1234"),
    ("身份证号31010119900101123X补办", "身份证号3101**********123X补办"),
    ("旧证310101900101123", "旧证3101*******1123"),
    ("手机13812345678联系我", "手机138****5678联系我"),
    ("电话 +86 138-1234-5678", "电话 +86 138****5678"),
    ("热线12345和12329不是手机号", "热线12345和12329不是手机号"),
])
def test_mask_pii(raw: str, masked: str) -> None:
    assert mask_pii(raw) == masked


def test_log_lines_are_json_with_pii_masked() -> None:
    record = logging.LogRecord("xiaoshen.turn", logging.INFO, __file__, 1, "user said %s",
                               ("13812345678",), None)
    record.fields = {"text": "身份证310101199001011234", "latency_ms": 12.5}
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert "13812345678" not in line and "310101199001011234" not in line
    assert data["msg"] == "user said 138****5678"
    assert data["text"] == "身份证3101**********1234"
    assert data["latency_ms"] == 12.5


@pytest.mark.parametrize(("raw", "hidden"), [
    ("身份证 310101 1990 0101 123x", "310101 1990 0101 123x"),
    ("身份证310101-19900101-1234", "19900101"),
    ("全角３１０１０１１９９００１０１１２３４", "１９９００１０１"),
    ("手机１３８１２３４５６７８", "１２３４５６７８"),
    ("手机 138 1234 5678", "1234 5678"),
    ("卡号6222 0212 3456 7890 123", "0212 3456 7890"),
    ("卡号6222021234567890", "02123456"),
    ("座机021-62345678", "62345678"),
    ("座机(021) 6234 5678", "6234 5678"),
    ("邮箱zhang.san@example.com.cn", "zhang.san"),
])
def test_every_written_form_of_personal_data_is_masked(raw: str, hidden: str) -> None:
    masked = mask_pii(raw)
    assert hidden not in masked and "*" in masked


@pytest.mark.parametrize("kept", [
    "2026-12-01 10:30 办理", "２０２４年１２月１日", "金额12345678元", "拨打12345热线", "ent-setup 的收费",
])
def test_dates_amounts_and_service_numbers_are_left_alone(kept: str) -> None:
    assert mask_pii(kept) == kept
