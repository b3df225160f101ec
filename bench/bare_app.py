"""The ceiling for the webhook benchmark: Flask under the same gunicorn, doing only WeChat's signature check.

`gunicorn bench.bare_app:app` with WECHAT_TOKEN set. Anything the real `/wechat` costs beyond this
(XML, AES, Redis, routing, templates, logging) is the service's own work.

With BARE_REDIS=1 it also makes the service's two Redis round trips per message (the real
`RedisStateStore.claim` and `.finish`, same client settings): the floor that no amount of work on
XML, AES or templates can go below while a message costs two round trips.
"""
from __future__ import annotations

import hashlib
import hmac
import os

from flask import Flask, Response, request

TOKEN = os.environ["WECHAT_TOKEN"]
app = Flask(__name__)
store = None
if os.environ.get("BARE_REDIS") == "1":
    from bot.conversation.state import RedisStateStore
    from bot.infra.keys import Keys
    from bot.infra.redis_conn import connect

    store = RedisStateStore(connect(os.environ["REDIS_URL"], 0.5), Keys(os.environ.get("WECHAT_APPID", "wx")),
                            state_ttl=1800, dedup_ttl=300)


def _signature_ok() -> bool:
    args = request.args
    parts = sorted((TOKEN, args.get("timestamp", ""), args.get("nonce", "")))
    expected = hashlib.sha1("".join(parts).encode()).hexdigest()
    return hmac.compare_digest(expected, args.get("signature", "").lower())


@app.post("/wechat")
def receive() -> Response:
    if not _signature_ok():
        return Response("bad signature", status=403, mimetype="text/plain")
    request.get_data()  # consume the body as the real webhook does, so both pay the same socket reads
    if store is not None:
        # Keyed by the nonce (unique per request) instead of parsing the body: only the I/O is measured.
        nonce = request.args.get("nonce", "")
        openid = f"o-bare-{nonce[-2:]}"
        claim = store.claim(f"m:{nonce}", openid)
        store.finish(f"m:{nonce}", openid, {**claim.state, "seen": 1}, claim.rev, "success")
    return Response("success", mimetype="text/plain")


@app.get("/healthz")
def healthz() -> Response:
    return Response("ok", mimetype="text/plain")
