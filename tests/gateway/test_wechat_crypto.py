"""Our safe-mode crypto against WeChat's official vectors and an independent implementation
(wechatpy playing WeChat's side)."""

from __future__ import annotations

import base64
import json

import pytest
import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature as wechatpy_check_signature

from connectors.gateway.wechat.crypto import WeChatCipher, WeChatCryptoError, check_signature, signature

# WeChat's documented test vectors for mini-program message push.
TOKEN, AES_KEY, APPID = "AAAAA", "A" * 43, "wxba5fad812f8e6fb9"
TIMESTAMP, NONCE = "1714036504", "1514711492"
OFFICIAL_SIGNATURE = "f464b24fc39322e44b38aa78f5edd27bd1441696"

# The encrypted-message sample of WeChat's 消息加解密说明 and its WXBizMsgCrypt demo code (published
# for 企业微信, whose receive id is the corp id; the algorithm is the one mini-program safe mode uses
# with the appid). Data, byte for byte as published: a POST push and the GET URL check's echostr.
SAMPLE_TOKEN, SAMPLE_APPID = "QDG6eK", "wx5823bf96d3bd56c7"
SAMPLE_AES_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SAMPLE_TIMESTAMP, SAMPLE_NONCE = "1409659813", "1372623149"
SAMPLE_MSG_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"
SAMPLE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/s"
    "YYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+H"
    "MZfJYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrX"
    "JB3LAVGUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m"
    "3fVKn28H3KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
SAMPLE_PLAINTEXT = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>\n"
    "<FromUserName><![CDATA[mycreate]]></FromUserName>\n"
    "<CreateTime>1409659813</CreateTime>\n"
    "<MsgType><![CDATA[text]]></MsgType>\n"
    "<Content><![CDATA[hello]]></Content>\n"
    "<MsgId>4561255354251345929</MsgId>\n"
    "<AgentID>218</AgentID>\n"
    "</xml>"
)
SAMPLE_ECHO = ("1409659589", "263014780", "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3",
               "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ==",
               "1616140317555161061")  # timestamp, nonce, msg_signature, echostr, its plaintext


def test_official_url_signature_vector() -> None:
    assert signature(TOKEN, TIMESTAMP, NONCE) == OFFICIAL_SIGNATURE
    assert check_signature(OFFICIAL_SIGNATURE, TOKEN, TIMESTAMP, NONCE)
    wechatpy_check_signature(TOKEN, OFFICIAL_SIGNATURE, TIMESTAMP, NONCE)  # raises if they disagree


def test_official_encrypted_message_vector() -> None:
    assert signature(SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT) == SAMPLE_MSG_SIGNATURE
    assert check_signature(SAMPLE_MSG_SIGNATURE, SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT)
    assert WeChatCipher(SAMPLE_AES_KEY, SAMPLE_APPID).decrypt(SAMPLE_ENCRYPT) == SAMPLE_PLAINTEXT


def test_official_url_check_echostr_vector() -> None:
    timestamp, nonce, msg_signature, echostr, plain = SAMPLE_ECHO
    assert check_signature(msg_signature, SAMPLE_TOKEN, timestamp, nonce, echostr)
    assert WeChatCipher(SAMPLE_AES_KEY, SAMPLE_APPID).decrypt(echostr) == plain


@pytest.mark.parametrize(
    "parts",
    [
        (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, "1372623148", SAMPLE_ENCRYPT),  # another nonce
        (SAMPLE_TOKEN, "1409659814", SAMPLE_NONCE, SAMPLE_ENCRYPT),  # another timestamp
        ("QDG6eL", SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT),  # another token
        (SAMPLE_TOKEN, SAMPLE_TIMESTAMP, SAMPLE_NONCE, SAMPLE_ENCRYPT.replace("R", "S", 1)),  # other body
    ],
)
def test_the_official_signature_covers_every_part(parts: tuple[str, ...]) -> None:
    assert not check_signature(SAMPLE_MSG_SIGNATURE, *parts)


def test_the_official_ciphertext_is_refused_for_another_appid_or_when_cut() -> None:
    with pytest.raises(WeChatCryptoError, match="appid"):
        WeChatCipher(SAMPLE_AES_KEY, "wx0000000000000000").decrypt(SAMPLE_ENCRYPT)
    last_block_dropped = base64.b64encode(base64.b64decode(SAMPLE_ENCRYPT)[:-16]).decode()
    with pytest.raises(WeChatCryptoError, match=r"padding|length"):
        WeChatCipher(SAMPLE_AES_KEY, SAMPLE_APPID).decrypt(last_block_dropped)


def test_a_changed_signature_or_nonce_fails() -> None:
    assert not check_signature(OFFICIAL_SIGNATURE.replace("f", "e", 1), TOKEN, TIMESTAMP, NONCE)
    assert not check_signature(OFFICIAL_SIGNATURE, TOKEN, TIMESTAMP, "1514711493")
    assert not check_signature("", TOKEN, TIMESTAMP, NONCE)


@pytest.mark.parametrize(
    "message",
    [
        "<xml><ToUserName><![CDATA[gh_1]]></ToUserName><MsgType><![CDATA[text]]></MsgType>"
        "<Content><![CDATA[开公司要带什么材料？]]></Content></xml>",
        json.dumps({"ToUserName": "gh_1", "MsgType": "text", "Content": "公积金" * 200}, ensure_ascii=False),
    ],
)
def test_we_decrypt_what_wechatpy_encrypts_and_the_signature_matches(message: str) -> None:
    pushed = xmltodict.parse(WeChatCrypto(TOKEN, AES_KEY, APPID).encrypt_message(message, NONCE, TIMESTAMP))[
        "xml"
    ]
    assert check_signature(pushed["MsgSignature"], TOKEN, TIMESTAMP, NONCE, pushed["Encrypt"])
    assert WeChatCipher(AES_KEY, APPID).decrypt(pushed["Encrypt"]) == message


def test_wechatpy_decrypts_what_we_encrypt() -> None:
    encrypted = WeChatCipher(AES_KEY, APPID).encrypt("<xml><Content>你好</Content></xml>")
    msg_signature = signature(TOKEN, TIMESTAMP, NONCE, encrypted)
    plain = WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt_message(
        {"Encrypt": encrypted}, msg_signature, TIMESTAMP, NONCE
    )
    assert plain == "<xml><Content>你好</Content></xml>"
    with pytest.raises(InvalidSignatureException):
        WeChatCrypto(TOKEN, AES_KEY, APPID).decrypt_message(
            {"Encrypt": encrypted}, "0" * 40, TIMESTAMP, NONCE
        )


def test_another_appid_or_key_is_refused() -> None:
    encrypted = WeChatCrypto(TOKEN, AES_KEY, "wx0000000000000000").encrypt_message("<xml/>", NONCE, TIMESTAMP)
    with pytest.raises(WeChatCryptoError, match="appid"):
        WeChatCipher(AES_KEY, APPID).decrypt(xmltodict.parse(encrypted)["xml"]["Encrypt"])
    ours = WeChatCipher(AES_KEY, APPID).encrypt("<xml/>")
    with pytest.raises(WeChatCryptoError):
        WeChatCipher("B" * 43, APPID).decrypt(ours)
    with pytest.raises(WeChatCryptoError):
        WeChatCipher(AES_KEY, APPID).decrypt("not base64!")
