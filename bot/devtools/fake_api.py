"""A fake WeChat API server on 127.0.0.1: real HTTP, recorded calls, injectable errors.

Covers what the service calls: token / stable_token, customer-service send, user info, mass send
(by tag, by openid list), preview, menu create, tags, thumbnail upload (material/add_material, multipart),
news upload (media/uploadnews), QR codes (qrcode/create: a ticket and the URL it encodes) and the kf
agents online (customservice/getonlinekflist: nobody unless a test sets `api.kf_online =
[api.kf_agent("test1@test")]`, items shaped as WeChat documents them). Like
WeChat, it refuses news whose thumb_media_id it never issued and mass sends whose mpnews media_id it
never issued (40007). Errors are injected per endpoint, in order:

    api.fail("message/custom/send", errcode=45047)       # next call gets this WeChat error
    api.fail("message/custom/send", status=502)          # ... or this HTTP status
    api.fail("message/custom/send", delay=2.0)           # ... or is done, but answered late
    api.expire_token()                                    # current token now gets 40001
"""
from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.devtools.local_server import LocalServer, QuietHandler, Served


@dataclass
class Call:
    path: str  # without the /cgi-bin/ prefix, e.g. "message/custom/send"
    query: dict[str, str]
    body: Any
    at: float = field(default_factory=time.time)
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        return self.status == 200 and not self.response.get("errcode")


@dataclass
class _Fault:
    errcode: int = 0
    status: int = 200
    delay: float = 0.0


class FakeWeChatAPI(Served):
    def __init__(self, token_ttl: int = 7200) -> None:
        self.calls: list[Call] = []
        self.token_ttl = token_ttl
        self._lock = threading.Lock()
        self._faults: dict[str, list[_Fault]] = {}
        self._valid_tokens: set[str] = set()
        self._msg_ids = iter(range(1000, 10**9, 2))
        self._mass_by_client_id: dict[Any, int] = {}
        self.media: dict[str, Any] = {}  # media_id -> what was uploaded (bytes of a thumb, articles of news)
        self.kf_online: list[dict[str, Any]] = []  # kf_online_list items: agents getonlinekflist reports online
        self._http = LocalServer(self._handler_class())

    # --- test controls -----------------------------------------------------------------------
    def fail(self, path: str, *, errcode: int = 0, status: int = 200, delay: float = 0.0, times: int = 1) -> None:
        with self._lock:
            self._faults.setdefault(path, []).extend(_Fault(errcode, status, delay) for _ in range(times))

    def expire_token(self) -> None:
        with self._lock:
            self._valid_tokens.clear()

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self._faults.clear()
            self._mass_by_client_id.clear()
            self.media.clear()
            self.kf_online = []

    @staticmethod
    def kf_agent(account: str = "test1@test", *, status: int = 1, kf_id: str = "1001", auto_accept: int = 0,
                 accepted_case: int = 1) -> dict[str, Any]:
        """One item of getonlinekflist's kf_online_list, as WeChat documents it (status 1: online on the web)."""
        return {"kf_account": account, "status": status, "kf_id": kf_id, "auto_accept": auto_accept,
                "accepted_case": accepted_case}

    def mass_sends(self) -> list[Call]:
        """Mass-send calls WeChat accepted (not the refused duplicates)."""
        return [c for c in self.calls_to("message/mass/send") + self.calls_to("message/mass/sendall")
                if c.accepted]

    def calls_to(self, path: str) -> list[Call]:
        with self._lock:
            return [c for c in self.calls if c.path == path]

    def wait_for(self, path: str, count: int = 1, timeout: float = 5.0) -> list[Call]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            calls = self.calls_to(path)
            if len(calls) >= count:
                return calls
            time.sleep(0.02)
        return self.calls_to(path)

    # --- behaviour ---------------------------------------------------------------------------
    def _respond(self, path: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        call = Call(path, query, body)
        with self._lock:
            self.calls.append(call)
            queue = self._faults.get(path) or []
            fault = queue.pop(0) if queue else None
        call.status, call.response = self._answer(path, query, body, fault)
        if fault and fault.delay:  # WeChat did the work; only its answer is late (a caller may time out)
            time.sleep(fault.delay)
        return call.status, call.response

    def _answer(self, path: str, query: dict[str, str], body: Any, fault: _Fault | None) -> tuple[int, dict[str, Any]]:
        if fault and fault.status != 200:
            return fault.status, {"errcode": -1, "errmsg": "system error"}
        if fault and fault.errcode:
            return 200, {"errcode": fault.errcode, "errmsg": f"injected error {fault.errcode}"}
        if path in ("token", "stable_token"):
            token = "TOKEN_" + secrets.token_hex(8)
            with self._lock:
                if path == "token" or (isinstance(body, dict) and body.get("force_refresh")):
                    self._valid_tokens.clear()
                self._valid_tokens.add(token)
            return 200, {"access_token": token, "expires_in": self.token_ttl}
        with self._lock:
            valid = query.get("access_token") in self._valid_tokens
        if not valid:
            return 200, {"errcode": 40001, "errmsg": "invalid credential, access_token is invalid or not latest"}
        if path == "user/info":
            return 200, {"subscribe": 1, "openid": query.get("openid"), "language": "zh_CN",
                         "subscribe_time": int(time.time()), "tagid_list": [], "subscribe_scene": "ADD_SCENE_QR_CODE"}
        if path == "customservice/getonlinekflist":
            with self._lock:
                return 200, {"kf_online_list": [dict(agent) for agent in self.kf_online]}
        if path == "material/add_material":
            return self._add_material(query, body)
        if path == "media/uploadnews":
            articles = (body or {}).get("articles") if isinstance(body, dict) else None
            if not isinstance(articles, list) or not 1 <= len(articles) <= 8:
                return 200, {"errcode": 45008, "errmsg": "article size out of limit"}
            for article in articles:
                if article.get("thumb_media_id") not in self.media:
                    return 200, {"errcode": 40007, "errmsg": "invalid media_id"}
                if not article.get("title") or not article.get("content"):
                    return 200, {"errcode": 44003, "errmsg": "empty news data"}
            media_id = self._new_media_id("news", articles)
            return 200, {"type": "news", "media_id": media_id, "created_at": int(time.time())}
        if isinstance(body, dict) and body.get("msgtype") == "mpnews" \
                and (body.get("mpnews") or {}).get("media_id") not in self.media:
            return 200, {"errcode": 40007, "errmsg": "invalid media_id"}
        if path in ("message/mass/sendall", "message/mass/send"):
            client_id = body.get("clientmsgid") if isinstance(body, dict) else None
            with self._lock:
                earlier = self._mass_by_client_id.get(client_id) if client_id else None
                if earlier is None:
                    earlier = self._mass_by_client_id.setdefault(client_id or object(), next(self._msg_ids))
                    return 200, {"errcode": 0, "errmsg": "send job submission success", "msg_id": earlier,
                                 "msg_data_id": earlier + 1}
            # WeChat refuses a clientmsgid it saw in the last 24 h and names the earlier job.
            return 200, {"errcode": 45065, "errmsg": "clientmsgid exist", "msg_id": earlier}
        if path == "qrcode/create":
            return self._qrcode(body)
        if path == "tags/create":
            return 200, {"tag": {"id": next(self._msg_ids), "name": (body or {}).get("tag", {}).get("name")}}
        return 200, {"errcode": 0, "errmsg": "ok"}

    def _qrcode(self, body: Any) -> tuple[int, dict[str, Any]]:
        """qrcode/create as WeChat answers it: a ticket (to show the image) and the URL the code encodes; a
        temporary code also `expire_seconds`. A scene WeChat would refuse gets 40097 (invalid args)."""
        body = body if isinstance(body, dict) else {}
        action = body.get("action_name")
        scene = ((body.get("action_info") or {}).get("scene") or {})
        if action in ("QR_LIMIT_STR_SCENE", "QR_STR_SCENE"):
            value = scene.get("scene_str")
            valid = isinstance(value, str) and 1 <= len(value) <= 64
        elif action in ("QR_LIMIT_SCENE", "QR_SCENE"):
            value = scene.get("scene_id")
            valid = isinstance(value, int) and 0 < value <= (100000 if action == "QR_LIMIT_SCENE" else 2**32 - 1)
        else:
            valid = False
        if not valid:
            return 200, {"errcode": 40097, "errmsg": "invalid args"}
        code = secrets.token_urlsafe(12)
        answer: dict[str, Any] = {"ticket": f"gQH{secrets.token_urlsafe(30)}==", "url": f"http://weixin.qq.com/q/{code}"}
        if action in ("QR_SCENE", "QR_STR_SCENE"):
            answer["expire_seconds"] = int(body.get("expire_seconds") or 60)
        return 200, answer

    def _add_material(self, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        if query.get("type") not in ("image", "thumb", "voice", "video"):
            return 200, {"errcode": 40004, "errmsg": "invalid media type"}
        upload = body.get("media") if isinstance(body, dict) else None
        if not isinstance(upload, bytes) or not upload:
            return 200, {"errcode": 41005, "errmsg": "media data missing"}
        if query["type"] == "thumb":
            if not upload.startswith(b"\xff\xd8\xff"):
                return 200, {"errcode": 40005, "errmsg": "invalid file type"}
            if len(upload) > 64 * 1024:
                return 200, {"errcode": 40006, "errmsg": "invalid meida size"}
        media_id = self._new_media_id(query["type"], upload)
        return 200, {"media_id": media_id, "url": f"http://mmbiz.example/{media_id}"}

    def _new_media_id(self, kind: str, what: Any) -> str:
        media_id = f"{kind.upper()}_{secrets.token_hex(12)}"
        with self._lock:
            self.media[media_id] = what
        return media_id

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _serve(self) -> None:
                parts = urlsplit(self.path)
                path = parts.path.removeprefix("/cgi-bin/").strip("/")
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body: Any
                if (self.headers.get("Content-Type") or "").startswith("multipart/form-data"):
                    body = _form_files(self.headers["Content-Type"], raw)
                else:
                    try:
                        body = json.loads(raw) if raw else None
                    except ValueError:
                        body = raw.decode("utf-8", "replace")
                status, payload = fake._respond(path, query, body)
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.respond(status, data, "application/json; charset=utf-8")

            do_GET = do_POST = _serve

        return Handler


def _form_files(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The parts of a multipart/form-data body, by field name."""
    message = BytesParser(policy=default).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
    parts: dict[str, bytes] = {}
    for part in message.iter_parts():
        name, payload = part.get_param("name", header="content-disposition"), part.get_payload(decode=True)
        if isinstance(name, str) and isinstance(payload, bytes):
            parts[name] = payload
    return parts
