"""WeChat's wire protocol: signatures, timestamps, AES envelopes and safe XML parsing.

Every failure raises `ProtocolError` with the HTTP status to answer and a reason for the log.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import struct
import time
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring
from wechatpy.crypto.base import WeChatCipher
from wechatpy.crypto.pkcs7 import PKCS7Encoder


class ProtocolError(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def sha1_signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


def check_signature(expected_parts: tuple[str, ...], given: str | None, what: str) -> None:
    """Compare in constant time: a timing oracle on the signature would leak the token."""
    if not given or not hmac.compare_digest(sha1_signature(*expected_parts), given.lower()):
        raise ProtocolError(403, f"bad {what}")


def check_timestamp(timestamp: str | None, window: int, now: float | None = None) -> None:
    """Refuse stale or future timestamps: plain-mode signatures do not cover the body."""
    try:
        ts = int(timestamp or "")
    except ValueError:
        raise ProtocolError(403, "missing or non-numeric timestamp") from None
    now = time.time() if now is None else now
    if abs(now - ts) > window:
        raise ProtocolError(403, f"timestamp outside the {window} s window")


def parse_xml(body: bytes | str) -> dict[str, Any]:
    """Parse a WeChat XML document into a dict (nested elements become dicts, repeats lists).

    DOCTYPEs, entities and external references are refused without being expanded.
    """
    if not body or not body.strip():
        raise ProtocolError(400, "empty body")
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException as exc:
        raise ProtocolError(400, f"refused XML construct: {type(exc).__name__}") from None
    except (ParseError, ValueError) as exc:
        raise ProtocolError(400, f"malformed XML: {exc}") from None
    if root.tag != "xml":
        raise ProtocolError(400, f"root element is <{root.tag}>, not <xml>")
    data = _element_to_value(root)
    return data if isinstance(data, dict) else {}


def _element_to_value(element: Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        value = _element_to_value(child)
        if child.tag in out:
            existing = out[child.tag]
            out[child.tag] = existing + [value] if isinstance(existing, list) else [existing, value]
        else:
            out[child.tag] = value
    return out


class AESEnvelope:
    """WeChat's safe-mode envelope: AES-256-CBC, 16 random bytes + length + message + AppID."""

    def __init__(self, token: str, encoding_aes_key: str, appid: str) -> None:
        self.token = token
        self.appid = appid
        key = base64.b64decode(encoding_aes_key + "=")
        if len(key) != 32:
            raise ValueError("EncodingAESKey must decode to 32 bytes")
        self._cipher = WeChatCipher(key)

    def decrypt(self, encrypted: str, msg_signature: str | None, timestamp: str, nonce: str) -> str:
        check_signature((self.token, timestamp, nonce, encrypted), msg_signature, "msg_signature")
        try:
            raw = self._cipher.decrypt(base64.b64decode(encrypted, validate=True))
            pad = raw[-1]
            if not 1 <= pad <= 32 or raw[-pad:] != bytes([pad]) * pad:
                raise ValueError("bad padding")
            content = raw[16:-pad]
            (length,) = struct.unpack(">I", content[:4])
            if length > len(content) - 4:
                raise ValueError("length beyond the payload")
            message = content[4:4 + length].decode("utf-8")
            appid = content[4 + length:].decode("utf-8")
        except (ValueError, struct.error, UnicodeDecodeError, IndexError) as exc:
            raise ProtocolError(400, f"cannot decrypt: {exc}") from None
        if not hmac.compare_digest(appid.encode(), self.appid.encode()):
            raise ProtocolError(400, "AppID inside the encrypted payload does not match")
        return message

    def encrypt(self, message: str, nonce: str, timestamp: str | None = None) -> str:
        """Wrap a reply as WeChat expects: <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>."""
        body = message.encode("utf-8")
        plain = secrets.token_bytes(16) + struct.pack(">I", len(body)) + body + self.appid.encode()
        encrypted = base64.b64encode(self._cipher.encrypt(PKCS7Encoder.encode(plain))).decode()
        timestamp = timestamp or str(int(time.time()))
        signature = sha1_signature(self.token, timestamp, nonce, encrypted)
        return (f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
                f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
                f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>")
