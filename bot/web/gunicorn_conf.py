"""gunicorn settings for production: `gunicorn -c python:bot.web.gunicorn_conf bot.wsgi:app`.

The access log leaves out query strings: WeChat's callback URL carries `signature`, `msg_signature`, `nonce`,
`timestamp` and the traveler's `openid`, and a signed URL copied from a log could be replayed (the webhook
refuses a replay with another body, but the log should not hand it out at all). Worker count, bind address
and timeouts stay on the command line or in GUNICORN_CMD_ARGS.

Threaded workers: a message whose handler waits on a stalled database holds one thread, not its whole worker,
so the messages behind it are still answered at once. Measured with bench/stalled_db.py (bench/README.md):
with sync workers, answers that need no database waited up to 2.4 s behind such messages; with gthread, none
did. Throughput is the same (bench/webhook_bench.py --worker-class gthread).
"""
from __future__ import annotations

accesslog = "-"
# %(U)s is the path without its query string; no %(r)s (the request line) and no %(q)s (the query).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'

worker_class = "gthread"
threads = 4
