"""WeChat message-push signatures and safe-mode (AES-256-CBC) encryption.

Implemented on `cryptography` from WeChat's published algorithm: signature = sha1 of the sorted,
concatenated strings; AESKey = base64(EncodingAESKey + "="), IV = AESKey[:16], PKCS#7 padding to
32 bytes; plaintext = 16 random bytes + 4-byte big-endian length + message + appid.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class WeChatCryptoError(Exception):
    """A push that fails signature, decryption or appid checks."""


def signature(*parts: str) -> str:
    """sha1 hex of the sorted parts joined (token, timestamp, nonce[, Encrypt])."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def check_signature(expected: str, *parts: str) -> bool:
    """Constant-time; compared as bytes, so a forged non-ASCII signature is simply wrong (as str,
    compare_digest raises TypeError on it)."""
    return bool(expected) and hmac.compare_digest(signature(*parts).encode(),
                                                  expected.lower().encode("utf-8", "replace"))


class WeChatCipher:
    """Safe-mode encryption for one mini-program (its EncodingAESKey and appid)."""

    def __init__(self, encoding_aes_key: str, appid: str) -> None:
        try:
            key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except ValueError as exc:
            raise WeChatCryptoError("EncodingAESKey is not base64") from exc
        if len(key) != 32:
            raise WeChatCryptoError("EncodingAESKey must decode to 32 bytes (43 characters)")
        self.key = key
        self.appid = appid

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def decrypt(self, encrypted: str) -> str:
        """The message inside an `Encrypt` field; raises WeChatCryptoError on any mismatch."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except ValueError as exc:
            raise WeChatCryptoError("Encrypt is not base64") from exc
        if not data or len(data) % 16:
            raise WeChatCryptoError("Encrypt has a bad length")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise WeChatCryptoError("bad padding")
        plain = plain[:-pad]
        if len(plain) < 20:
            raise WeChatCryptoError("message too short")
        (length,) = struct.unpack(">I", plain[16:20])
        message, appid = plain[20 : 20 + length], plain[20 + length :]
        if len(message) != length:
            raise WeChatCryptoError("bad length prefix")
        if appid.decode("utf-8", "replace") != self.appid:
            raise WeChatCryptoError("appid mismatch")
        return message.decode("utf-8")

    def encrypt(self, message: str, random16: bytes | None = None) -> str:
        """Base64 ciphertext of a message (for replies in safe mode and for tests)."""
        body = message.encode("utf-8")
        plain = (random16 or os.urandom(16)) + struct.pack(">I", len(body)) + body + self.appid.encode()
        pad = BLOCK - len(plain) % BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
