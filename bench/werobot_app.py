"""The reference for the webhook benchmark: WeRoBot 1.13 answering the same WeChat messages.

`gunicorn bench.werobot_app:app` in its own virtualenv (webhook_bench.py makes it: WeRoBot is not a
dependency of ours), with WECHAT_TOKEN, WECHAT_APPID and WECHAT_ENCODING_AES_KEY set, so it checks the
signature, decrypts and encrypts exactly as our safe mode must.

- WEROBOT_REDIS_URL unset: a plain echo (the text sent comes back), no session.
- WEROBOT_REDIS_URL set: WeRoBot's own Redis session storage (one GET before the handler, one SET after),
  the handler counts the traveler's messages in it: parse, one session read and write, reply.
"""
from __future__ import annotations

import os

import werobot
from bottle import Bottle

_session: dict[str, object] = {}
if url := os.environ.get("WEROBOT_REDIS_URL"):
    import redis
    from werobot.session.redisstorage import RedisStorage

    _session["session_storage"] = RedisStorage(redis.Redis.from_url(url), prefix="wr_")
else:
    _session["enable_session"] = False

robot = werobot.WeRoBot(token=os.environ["WECHAT_TOKEN"], app_id=os.environ["WECHAT_APPID"],
                        encoding_aes_key=os.environ["WECHAT_ENCODING_AES_KEY"], **_session)


@robot.text
def echo(message, session=None):  # type: ignore[no-untyped-def]
    if session is not None:
        session["n"] = session.get("n", 0) + 1
    return message.content


app: Bottle = robot.wsgi
app.route("/healthz", "GET", lambda: "ok")  # static routes win over WeRoBot's catch-all
