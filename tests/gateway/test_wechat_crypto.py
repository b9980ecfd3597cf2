"""Our safe-mode crypto against WeChat's official vectors and an independent implementation
(wechatpy playing WeChat's side)."""

from __future__ import annotations

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


def test_official_url_signature_vector() -> None:
    assert signature(TOKEN, TIMESTAMP, NONCE) == OFFICIAL_SIGNATURE
    assert check_signature(OFFICIAL_SIGNATURE, TOKEN, TIMESTAMP, NONCE)
    wechatpy_check_signature(TOKEN, OFFICIAL_SIGNATURE, TIMESTAMP, NONCE)  # raises if they disagree


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
