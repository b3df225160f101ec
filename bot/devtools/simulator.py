"""`/simulator`: a phone-sized WeChat chat for testers, talking to the real webhook.

Each turn the page sends is built as WeChat builds it (`bot.testing.conversations.message_for`), signed
and, when the account has an AES key, encrypted with the account's own secrets, then posted to this
app's `/wechat` through the WSGI stack: the same signature check, decryption, dedup, state, routing,
handlers and reply encryption a real message goes through. The reply is decrypted and handed back as
JSON. A marketer can also paste a broadcast file and see what followers would get, without sending it.

Only registered when `simulator.enabled` is true (the dev runner); anyone who can reach it can chat as
any openid, so production never turns it on.
"""
from __future__ import annotations

import time
from typing import Any

from flask import (Blueprint, Response, current_app, jsonify, render_template, request, send_from_directory,
                   url_for)

from bot.infra import yamlfile
from bot.wechat.protocol import parse_xml

bp = Blueprint("simulator", __name__, url_prefix="/simulator", template_folder="templates",
               static_folder="static/simulator")

# Where testers usually "are": picked from content/attractions.yaml's coordinates.
PRESETS = ("myeongdong_shopping", "gyeongbokgung", "hongdae", "gangnam_station_area", "n_seoul_tower", "ddp")
SEND_KINDS = {"text", "voice", "location", "click", "image", "event"}


def _ext():  # type: ignore[no-untyped-def]
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
    from bot.broadcasts import news as broadcast_news, planning as broadcasts

    body = request.get_json(silent=True)
    source = body.get("yaml") if isinstance(body, dict) else None
    if not isinstance(source, str) or not source.strip():
        return _error(400, "paste a broadcast file (YAML)")
    ext = _ext()
    try:
        doc = yamlfile.loads(source, "broadcast.yaml")
        try:
            name, spec, segment = broadcasts.validate_spec(doc.data, ext.content)
        except broadcasts.SpecError as exc:
            raise doc.error(exc.field, exc.message) from None
    except yamlfile.SourceError as exc:
        return _error(400, exc.message, line=exc.line)
    messages = []
    for lang in broadcasts.spec_languages(spec):
        if "news" in spec:
            composer = broadcast_news.NewsComposer(ext.services)
            articles = []
            for item in spec["news"]:
                a = composer.article(item, lang)
                articles.append({"title": a["title"], "description": a["digest"], "url": a["content_source_url"],
                                 "content": a["content"],
                                 "picurl": url_for("simulator.image",
                                                   name=broadcast_news.thumb_path(ext.content.dir, item).name)})
            messages.append({"lang": lang, "kind": "news", "articles": articles})
        elif "text" in spec:
            text = spec["text"][lang] if isinstance(spec["text"], dict) else spec["text"]
            messages.append({"lang": lang, "kind": "text", "text": text})
        else:
            messages.append({"lang": lang, "kind": "media", "text": f"media_id {spec['media_id']}"})
    now = ext.clock.now()
    return jsonify({"name": name, "audience": segment.count(ext.db, now), "mode": segment.mode,
                    "messages": messages})


@bp.get("/images/<name>")
def image(name: str) -> Response:
    from bot.broadcasts.news import IMAGE_NAME

    if not IMAGE_NAME.match(name):
        return _error(404, "no such image")
    return send_from_directory(_ext().content.dir / "images", name, max_age=300)
