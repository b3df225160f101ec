"""Build webhook requests exactly as WeChat does: signed query string, optional AES envelope.

Used by the tests, the benchmark and (later) the replay tool, so all three exercise the same path
as WeChat's servers.
"""
from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass
from typing import Any

from bot.wechat.protocol import AESEnvelope, parse_xml, sha1_signature

_ids = itertools.count(int(time.time() * 1000) % 10**12)


@dataclass
class Request:
    query: dict[str, str]
    body: bytes

    @property
    def query_string(self) -> str:
        from urllib.parse import urlencode

        return urlencode(self.query)


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def message_xml(fields: dict[str, Any], to_user: str = "gh_yijiyou") -> str:
    """A message body; nested dicts become nested elements (SendLocationInfo, ScanCodeInfo ...)."""
    def render(items: dict[str, Any]) -> str:
        out = []
        for key, value in items.items():
            if isinstance(value, dict):
                out.append(f"<{key}>{render(value)}</{key}>")
            elif isinstance(value, (int, float)):
                out.append(f"<{key}>{value}</{key}>")
            else:
                out.append(f"<{key}>{_cdata(str(value))}</{key}>")
        return "".join(out)
    return f"<xml>{render({'ToUserName': to_user, **fields})}</xml>"


def text(openid: str, content: str, *, msg_id: int | None = None, create_time: int | None = None) -> str:
    return message_xml({"FromUserName": openid, "CreateTime": create_time or int(time.time()),
                        "MsgType": "text", "Content": content, "MsgId": msg_id or next(_ids)})


def event(openid: str, name: str, key: str | None = None, *, create_time: int | None = None,
          **extra: Any) -> str:
    fields: dict[str, Any] = {"FromUserName": openid, "CreateTime": create_time or int(time.time()),
                              "MsgType": "event", "Event": name}
    if key is not None:
        fields["EventKey"] = key
    fields.update(extra)
    return message_xml(fields)


def location(openid: str, lat: float, lng: float, label: str = "", *, msg_id: int | None = None) -> str:
    return message_xml({"FromUserName": openid, "CreateTime": int(time.time()), "MsgType": "location",
                        "Location_X": lat, "Location_Y": lng, "Scale": 15, "Label": label,
                        "MsgId": msg_id or next(_ids)})


class WeChatSender:
    """Signs (and in safe mode encrypts) a message body the way WeChat's servers do."""

    def __init__(self, token: str, appid: str = "", encoding_aes_key: str = "", mode: str = "plain") -> None:
        if mode not in ("plain", "compatible", "safe"):
            raise ValueError("mode must be plain, compatible or safe")
        self.token = token
        self.mode = mode
        self.envelope = AESEnvelope(token, encoding_aes_key, appid) if mode != "plain" else None

    def sign(self, timestamp: str | None = None, nonce: str | None = None) -> dict[str, str]:
        timestamp = timestamp or str(int(time.time()))
        nonce = nonce or str(secrets.randbelow(10**10))
        return {"signature": sha1_signature(self.token, timestamp, nonce), "timestamp": timestamp, "nonce": nonce}

    def verification(self, echostr: str = "echo-check") -> dict[str, str]:
        return {**self.sign(), "echostr": echostr}

    def request(self, xml: str, *, timestamp: str | None = None, nonce: str | None = None,
                openid: str | None = None) -> Request:
        query = self.sign(timestamp, nonce)
        if self.envelope is None:
            return Request(query, xml.encode("utf-8"))
        inner = parse_xml(xml.encode("utf-8"))
        encrypted = self.envelope.encrypt(xml, query["nonce"], query["timestamp"])
        encrypt_value = parse_xml(encrypted.encode())["Encrypt"]
        query.update(encrypt_type="aes", msg_signature=sha1_signature(self.token, query["timestamp"],
                                                                         query["nonce"], encrypt_value))
        query["openid"] = openid or str(inner.get("FromUserName", ""))
        if self.mode == "compatible":
            body = xml.replace("</xml>", f"<Encrypt>{_cdata(encrypt_value)}</Encrypt></xml>")
        else:
            body = message_xml({"Encrypt": encrypt_value}, to_user=str(inner.get("ToUserName", "")))
        return Request(query, body.encode("utf-8"))

    def read_reply(self, body: bytes | str) -> str:
        """The reply's plaintext XML (decrypting and checking the signature in safe mode), or "success"."""
        text_body = body.decode("utf-8") if isinstance(body, bytes) else body
        if self.envelope is None or text_body in ("success", ""):
            return text_body
        outer = parse_xml(text_body.encode("utf-8"))
        return self.envelope.decrypt(outer["Encrypt"], outer.get("MsgSignature"), outer["TimeStamp"],
                                     outer["Nonce"])
