"""gunicorn settings for production: `gunicorn -c python:bot.web.gunicorn_conf bot.wsgi:app`.

The access log leaves out query strings: WeChat's callback URL carries `signature`, `msg_signature`, `nonce`,
`timestamp` and the traveler's `openid`, and a signed URL copied from a log could be replayed (the webhook
refuses a replay with another body, but the log should not hand it out at all). Worker count, bind address
and timeouts stay on the command line or in GUNICORN_CMD_ARGS.
"""
from __future__ import annotations

accesslog = "-"
# %(U)s is the path without its query string; no %(r)s (the request line) and no %(q)s (the query).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'
