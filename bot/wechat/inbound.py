"""One parsed WeChat message or event, in the shape handlers and the router need.

wechatpy's message classes do the field parsing; `Incoming` adds what every layer asks for: the
user, the text to understand (typed or voice recognition), the menu key, the location and the scene.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wechatpy.events import EVENT_TYPES
from wechatpy.messages import MESSAGE_TYPES, BaseMessage, UnknownMessage


@dataclass(frozen=True)
class Location:
    lat: float
    lng: float
    label: str = ""


@dataclass(frozen=True)
class Incoming:
    """What a user sent. `kind` is the message type; for events `event` names the event."""

    raw: BaseMessage
    kind: str  # text | voice | image | video | shortvideo | location | link | file | event | ...
    openid: str
    account: str  # our account id (ToUserName), replies come from it
    create_time: int
    msg_id: str
    event: str = ""  # lower-case event name: subscribe, unsubscribe, scan, click, view, location, ...
    key: str = ""  # menu key, scene (without "qrscene_") or other EventKey
    text: str = ""  # typed text or voice recognition
    location: Location | None = None
    known: bool = True  # wechatpy knows this type

    @property
    def dedup_key(self) -> str:
        """Identity of one delivery, stable across WeChat's retries.

        MsgId alone has collided in practice, so it is combined with sender and time; events have no
        MsgId and are keyed on sender, time, event and key.
        """
        if self.kind == "event":
            return f"e:{self.openid}:{self.create_time}:{self.event}:{self.key}"
        return f"m:{self.msg_id}:{self.openid}:{self.create_time}"

    @property
    def scene(self) -> str:
        """Campaign channel of a parametric QR code (subscribe or scan), else ''."""
        return self.key if self.event in ("subscribe", "scan") else ""

    def describe(self) -> str:
        return f"{self.kind}/{self.event}" if self.event else self.kind


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _location(lat: Any, lng: Any, label: Any = "") -> Location | None:
    lat_f, lng_f = _float(lat), _float(lng)
    if lat_f is None or lng_f is None or not (-90 <= lat_f <= 90 and -180 <= lng_f <= 180):
        return None
    return Location(lat_f, lng_f, str(label or ""))


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def to_incoming(data: dict[str, Any]) -> Incoming:
    """Build an `Incoming` from the parsed XML dict (see `protocol.parse_xml`)."""
    msg_type = str(data.get("MsgType") or "").lower()
    event = str(data.get("Event") or "").lower() if msg_type == "event" else ""
    key = data.get("EventKey")
    key = key if isinstance(key, str) else ""
    if event == "subscribe" and key.startswith("qrscene_"):
        key = key[len("qrscene_"):]
    if msg_type == "event":
        cls = EVENT_TYPES.get(event, UnknownMessage)
    else:
        cls = MESSAGE_TYPES.get(msg_type, UnknownMessage)
    raw = cls(dict(data))

    text = ""
    location = None
    if msg_type == "text":
        text = str(data.get("Content") or "")
    elif msg_type == "voice":
        text = str(data.get("Recognition") or "")
    elif msg_type == "location":
        location = _location(data.get("Location_X"), data.get("Location_Y"), data.get("Label"))
    elif event == "location":
        location = _location(data.get("Latitude"), data.get("Longitude"))
    elif event == "location_select":
        info = data.get("SendLocationInfo")
        if isinstance(info, dict):
            location = _location(info.get("Location_X"), info.get("Location_Y"),
                                 info.get("Poiname") or info.get("Label"))

    return Incoming(
        raw=raw,
        kind=msg_type or "unknown",
        openid=str(data.get("FromUserName") or ""),
        account=str(data.get("ToUserName") or ""),
        create_time=_int(data.get("CreateTime")),
        msg_id=str(data.get("MsgId") or data.get("MsgID") or ""),
        event=event,
        key=key,
        text=text,
        location=location,
        known=cls is not UnknownMessage or msg_type == "file",
    )
