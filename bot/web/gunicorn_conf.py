"""gunicorn settings for production: `gunicorn -c python:bot.web.gunicorn_conf bot.wsgi:app`.

The access log leaves out query strings: WeChat's callback URL carries `signature`, `msg_signature`, `nonce`,
`timestamp` and the traveler's `openid`, and a signed URL copied from a log could be replayed (the webhook
refuses a replay with another body, but the log should not hand it out at all). Worker count, bind address
and timeouts stay on the command line or in GUNICORN_CMD_ARGS.

Threaded workers: a message whose handler waits on a stalled database holds one thread, not its whole worker,
so the messages behind it are still answered at once. Measured with bench/stalled_db.py (bench/README.md):
with sync workers, answers that need no database waited up to 2.4 s behind such messages; with gthread, none
did. Throughput is the same (bench/webhook_bench.py --worker-class gthread).

Metrics (`GET /metrics`, bot/infra/metrics.py): the workers count in prometheus_client's multiprocess mode, each
in its own files under PROMETHEUS_MULTIPROC_DIR, and a scrape answered by any worker sums them. The variable is
set here, in the master, before a worker imports prometheus_client: the operator's value if given (a folder for
this gunicorn alone: it is emptied when the master starts), else a new private folder under the system's temp
folder, removed when the master exits. A worker that exits hands back its per-process files (child_exit).
"""
from __future__ import annotations

import glob as _glob
import os as _os
import shutil as _shutil
import tempfile as _tempfile
from typing import Any as _Any

accesslog = "-"
# %(U)s is the path without its query string; no %(r)s (the request line) and no %(q)s (the query).
access_log_format = '%(h)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s %(L)s'

worker_class = "gthread"
threads = 4

# Names here start with "_" unless they are gunicorn settings: gunicorn reads this module's globals as its settings.
_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_OWNED_VARIABLE = "YJY_METRICS_DIR_CREATED"  # the folder this config made (removed at exit); survives a reload
if not _os.environ.get(_DIR_VARIABLE):
    _os.environ[_DIR_VARIABLE] = _os.environ[_OWNED_VARIABLE] = _tempfile.mkdtemp(
        prefix=f"yjy-metrics-{_os.getpid()}-")


_os.makedirs(_os.environ[_DIR_VARIABLE], mode=0o700, exist_ok=True)


def on_starting(server: _Any) -> None:
    """Counters of an earlier run must not add to this one's: the folder starts empty. Workers that run as
    another user (`--user`) must be able to write the folder this config made."""
    folder = _os.environ[_DIR_VARIABLE]
    for path in _glob.glob(_os.path.join(folder, "*.db")):
        _os.remove(path)
    if folder == _os.environ.get(_OWNED_VARIABLE) and _os.geteuid() == 0 and server.cfg.uid != 0:
        _os.chown(folder, server.cfg.uid, server.cfg.gid)


def child_exit(server: _Any, worker: _Any) -> None:
    """A worker gone (restarted, or max_requests): its live gauges leave; its counters stay in the sums."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: _Any) -> None:
    folder = _os.environ.get(_DIR_VARIABLE, "")
    if folder and folder == _os.environ.get(_OWNED_VARIABLE):
        _shutil.rmtree(folder, ignore_errors=True)
