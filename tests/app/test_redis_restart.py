"""A Redis restart under a running worker (issue #14): the scheduler RQ runs beside the worker died with the
connection and came back only at RQ's 10-minute maintenance pass, so a late reply due seconds later went out
minutes late. The worker now runs maintenance every `jobs.maintenance_seconds` (15 s shipped, 2 s here to keep
the test short): a job scheduled after the restart runs within a few maintenance passes. With RQ's default of
10 minutes this test fails (tried: nothing was sent within 10 minutes).

The test starts a Redis of its own (a free port, append-only file in tmp_path, as production must persist) so
that it can restart it, and `flask --app wsgi worker` as production runs it.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Iterator

import pytest
import redis
from rq import Queue

from bot.infra.queue import LATE_REPLY_JOB, PERIODIC
from tests.support import AES_KEY, APPID, SECRET, TOKEN

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
OPENID = "oRESTART00000000000000000000"
MAINTENANCE_SECONDS = 2


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OwnRedis:
    """A redis-server on a free port that the test can restart (its data kept in an append-only file)."""

    def __init__(self, folder: Path) -> None:
        self.port, self.folder = _free_port(), folder
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--appendonly", "yes", "--dir", str(self.folder), "--save", ""],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if redis.Redis.from_url(self.url).ping():
                    return
            except redis.ConnectionError:
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: Redis writes its append-only file and exits
            self.proc.wait(timeout=10)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed: this test restarts a Redis of its own")
    server = OwnRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.mark.servers
def test_jobs_scheduled_after_a_redis_restart_run_within_a_few_maintenance_passes(own_redis, pg_migrated_db, fake_api, tmp_path):  # type: ignore[no-untyped-def]
    env = dict(os.environ, WECHAT_TOKEN=TOKEN, WECHAT_APPID=APPID, WECHAT_APPSECRET=SECRET,
               WECHAT_ENCODING_AES_KEY=AES_KEY, WECHAT_API_BASE_URL=fake_api.base_url, REDIS_URL=own_redis.url,
               DATABASE_URL=pg_migrated_db, PYTHONPATH=str(ROOT))
    config = tmp_path / "config.yaml"
    config.write_text((ROOT / "config.yaml").read_text().replace(
        "  maintenance_seconds: 15 ", f"  maintenance_seconds: {MAINTENANCE_SECONDS} "))
    assert f"maintenance_seconds: {MAINTENANCE_SECONDS} " in config.read_text()
    env["BOT_CONFIG"] = str(config)
    with open(tmp_path / "worker.log", "wb") as log:  # the worker keeps its own copy of the descriptor
        worker = subprocess.Popen([str(BIN / "flask"), "--app", "wsgi", "worker"], cwd=ROOT, env=env, stdout=log,
                                  stderr=subprocess.STDOUT, start_new_session=True)
    try:
        client = redis.Redis.from_url(own_redis.url)
        deadline = time.monotonic() + 20
        while not client.keys("rq:scheduler-lock:*") and time.monotonic() < deadline:
            time.sleep(0.1)
        assert client.keys("rq:scheduler-lock:*"), "the worker's scheduler did not start"
        # The periodic jobs a worker queues on its first maintenance pass (payments sweep, reminders) finish first:
        # RQ's worker exits when Redis vanishes in the middle of a job (a supervisor restarts it, see README).
        idle = Queue("yjy", connection=client)
        while idle.finished_job_registry.count < len(PERIODIC) and time.monotonic() < deadline + 10:
            time.sleep(0.1)  # finished, not merely off the queue: a job just taken is in neither place
        assert idle.finished_job_registry.count >= len(PERIODIC), (tmp_path / "worker.log").read_text()[-3000:]
        own_redis.stop()
        time.sleep(1)  # the worker and its scheduler meet a refused connection
        own_redis.start()
        restarted = time.monotonic()
        payload = {"touser": OPENID, "msgtype": "text", "text": {"content": "after the restart"}}
        Queue("yjy", connection=redis.Redis.from_url(own_redis.url)).enqueue_in(  # config.yaml queue
            timedelta(seconds=1), LATE_REPLY_JOB, OPENID, payload, "m:restart:1")
        sent = fake_api.wait_for("message/custom/send", timeout=30)  # a bound: fail, never hang
        took = time.monotonic() - restarted
        assert [c.body["touser"] for c in sent] == [OPENID], (tmp_path / "worker.log").read_text()[-3000:]
        assert took < 30, took
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
