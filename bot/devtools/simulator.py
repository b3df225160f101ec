"""`/simulator`: a phone-sized WeChat chat for testers, talking to the real webhook.

Each turn the page sends is built as WeChat builds it (`bot.devtools.conversations.message_for`), signed
and, when the account has an AES key, encrypted with the account's own secrets, then posted to this
app's `/wechat` through the WSGI stack: the same signature check, decryption, dedup, state, routing,
handlers and reply encryption a real message goes through. The reply is decrypted and handed back as
JSON. A marketer can also paste a broadcast file and see what followers would get, without sending it.

Mounted by `init_app`, which the dev runner (`bot.cli.run`) calls, and only when `simulator.enabled` is true:
anyone who can reach it can chat as any openid, so production never turns it on (nor imports this module).
"""
from __future__ import annotations

import logging
import time
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    send_from_directory,
    url_for,
)

from bot.infra import yamlfile
from bot.wechat.protocol import parse_xml

log = logging.getLogger(__name__)
bp = Blueprint("simulator", __name__, url_prefix="/simulator", template_folder="templates",
               static_folder="static/simulator")

# Where testers usually "are": picked from content/attractions.yaml's coordinates.
PRESETS = ("myeongdong_shopping", "gyeongbokgung", "hongdae", "gangnam_station_area", "n_seoul_tower", "ddp")
SEND_KINDS = {"text", "voice", "location", "click", "image", "event"}


def init_app(app: Flask) -> None:
    """Mount the simulator on `app` when its config turns it on (`simulator.enabled`); safe to call twice."""
    config = app.extensions["yjy"].config
    if not config.simulator or bp.name in app.blueprints:
        return
    app.register_blueprint(bp)
    if not config.dev:
        log.warning("the chat simulator is on at /simulator: anyone who reaches it can chat as any openid")


def _ext() -> Any:
    return current_app.extensions["yjy"]


def _error(status: int, message: str, **extra: Any) -> Response:
    response = jsonify({"error": message, **extra})
    response.status_code = status
    return response


@bp.get("")
@bp.get("/")
def page() -> str:
    return render_template("simulator.html", mode=_ext().config.wechat.mode)


@bp.get("/api/setup")
def setup() -> Response:
    """The custom menu, location presets and campaign QR scenes the page offers."""
    ext = _ext()
    places = ext.content.places
    presets = [{"name": p.name["zh-CN"], "lat": p.lat, "lng": p.lng}
               for p in (places.get(pid) for pid in PRESETS) if p is not None]
    scenes = sorted({scene for c in ext.content.coupons.items.values() for scene in c.qrscenes})
    examples = [{"file": path.name, "yaml": path.read_text(encoding="utf-8")}
                for path in sorted((ext.content.dir / "broadcasts").glob("*.yaml"))]
    return jsonify({"menu": ext.content.menu.to_wechat(ext.config.public_base_url), "presets": presets,
                    "scenes": scenes, "mode": ext.config.wechat.mode, "broadcasts": examples})


@bp.post("/api/send")
def send() -> Response:
    """Body: {"openid": ..., "send": {<a conversation fixture turn>}}; the reply as JSON."""
    from bot.devtools.conversations import message_for
    from bot.devtools.sender import WeChatSender

    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("send"), dict):
        return _error(400, 'expected {"openid": "...", "send": {"text": "..."}}')
    openid, turn = body.get("openid"), body["send"]
    if not isinstance(openid, str) or not 6 <= len(openid) <= 64 or not openid.isascii():
        return _error(400, "expected an openid of 6 to 64 characters", field="openid")
    if len(set(turn) & SEND_KINDS) != 1:
        return _error(400, f"send exactly one of {', '.join(sorted(SEND_KINDS))}", field="send")
    try:
        xml = message_for(turn, openid)
    except (KeyError, TypeError, ValueError) as exc:
        return _error(400, f"incomplete turn: {exc}", field="send")
    w = _ext().config.wechat
    sender = WeChatSender(w.token, w.appid, w.encoding_aes_key,
                          w.mode if w.encoding_aes_key else "plain")  # what WeChat sends
    signed = sender.request(xml, openid=openid)
    started = time.perf_counter()
    response = current_app.test_client().post("/wechat", query_string=signed.query, data=signed.body,
                                              content_type="text/xml")
    elapsed_ms = (time.perf_counter() - started) * 1000
    wire = {"status": response.status_code, "ms": round(elapsed_ms, 1), "encrypted": sender.envelope is not None}
    if response.status_code != 200:
        return jsonify({**wire, "kind": "error", "text": response.get_data(as_text=True)[:300]})
    return jsonify({**wire, **_reply(sender.read_reply(response.data))})


def _reply(body: str) -> dict[str, Any]:
    if body in ("success", ""):
        return {"kind": "none"}
    data = parse_xml(body.encode("utf-8"))
    kind = str(data.get("MsgType"))
    if kind == "news":
        items = data["Articles"]["item"]
        items = items if isinstance(items, list) else [items]
        return {"kind": "news", "articles": [{"title": i.get("Title", ""), "description": i.get("Description", ""),
                                              "url": i.get("Url", ""), "picurl": i.get("PicUrl", "")} for i in items]}
    return {"kind": kind, "text": str(data.get("Content", ""))}


@bp.post("/api/broadcast-preview")
def broadcast_preview() -> Response:
    """Body: {"yaml": "<a broadcast file>"}: what followers would see and how many, nothing sent."""
    from bot.broadcasts.service import broadcast_service

    body = request.get_json(silent=True)
    source = body.get("yaml") if isinstance(body, dict) else None
    if not isinstance(source, str) or not source.strip():
        return _error(400, "paste a broadcast file (YAML)")
    service = broadcast_service(_ext())
    try:
        draft = service.load_yaml(source, "broadcast.yaml")
    except yamlfile.SourceError as exc:
        return _error(400, exc.message, line=exc.line)
    messages: list[dict[str, Any]] = []
    for shown in service.render(draft.spec):
        if shown.kind == "news":
            messages.append({"lang": shown.lang, "kind": "news", "articles": [
                {"title": a.title, "description": a.description, "url": a.url, "content": a.content,
                 "picurl": url_for("simulator.image", name=a.thumb)} for a in shown.articles]})
        else:
            messages.append({"lang": shown.lang, "kind": shown.kind, "text": shown.text})
    return jsonify({"name": draft.name, "audience": service.audience_size(draft), "mode": draft.segment.mode,
                    "messages": messages})


@bp.get("/images/<name>")
def image(name: str) -> Response:
    from bot.broadcasts.news import IMAGE_NAME

    if not IMAGE_NAME.match(name):
        return _error(404, "no such image")
    return send_from_directory(_ext().content.dir / "images", name, max_age=300)
