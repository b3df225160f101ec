"""Metrics across gunicorn workers: each worker counts in its own files under PROMETHEUS_MULTIPROC_DIR and a
scrape, whichever worker answers it, sums them (bot/web/gunicorn_conf.py, bot/infra/metrics.py)."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from bot.devtools import sender as build
from bot.devtools.sender import WeChatSender
from tests.support import AES_KEY, APPID, REDIS_URL, SECRET, TOKEN

pytestmark = pytest.mark.servers
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MESSAGES = "yjy_messages"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """The operator's PROMETHEUS_MULTIPROC_DIR, holding a file a previous run left (pid 99999)."""
    path = tmp_path / "prometheus"
    path.mkdir()
    stale = MmapedDict(str(path / "counter_99999.db"))
    stale.write_value(mmap_key(MESSAGES, f"{MESSAGES}_total", ["kind", "route", "outcome"],
                               ["text", "probe.probe", "replied"], "old run"), 1000.0, 0.0)
    stale.close()
    return path


@pytest.fixture
def gunicorn(tmp_path, folder, pg_migrated_db, real_redis, fake_api) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Two sync workers: a worker busy with one request takes no other, so two at once go to both."""
    config = (ROOT / "config.yaml").read_text().replace("routers: handlers:ROUTERS",
                                                       "routers: tests.probe_handlers:ROUTERS")
    (tmp_path / "config.yaml").write_text(config)
    # HOME: gunicorn keeps its control socket there; this one must not meet another test's gunicorn
    env = dict({k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}, HOME=str(tmp_path),
               BOT_CONFIG=str(tmp_path / "config.yaml"), WECHAT_TOKEN=TOKEN, WECHAT_APPID=APPID, WECHAT_APPSECRET=SECRET, WECHAT_ENCODING_AES_KEY=AES_KEY, WECHAT_API_BASE_URL=fake_api.base_url,
               REDIS_URL=REDIS_URL, DATABASE_URL=pg_migrated_db, PYTHONPATH=str(ROOT),
               PROMETHEUS_MULTIPROC_DIR=str(folder))
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "python:bot.web.gunicorn_conf", "-w", "2",
                             "--worker-class", "sync", "--threads", "1", "-b", f"127.0.0.1:{port}",
                             "--graceful-timeout", "1", "wsgi:app"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                if time.time() > deadline:
                    pytest.fail("gunicorn did not start:\n" + proc.stdout.read1().decode(errors="replace"))  # type: ignore[union-attr]
                time.sleep(0.05)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def _send(url: str, sender: WeChatSender, text: str) -> None:
    req = sender.request(build.text("o-metrics", text))
    response = requests.post(f"{url}/wechat", params=req.query, data=req.body, timeout=10)
    assert response.status_code == 200 and response.content != b"success"


def _per_worker(folder: Path) -> dict[str, float]:
    """Messages counted in each process's file."""
    counts = {}
    for path in folder.glob("counter_*.db"):
        total = sum(s.value for m in MultiProcessCollector.merge([str(path)]) if m.name == MESSAGES
                    for s in m.samples)
        counts[path.stem.split("_")[1]] = total
    return counts


def _scraped(url: str) -> float:
    body = requests.get(f"{url}/metrics", timeout=10).text
    return sum(s.value for family in text_string_to_metric_families(body) if family.name == MESSAGES
               for s in family.samples)


def test_a_scrape_sums_every_worker(gunicorn, folder):
    assert "99999" not in _per_worker(folder)  # the master emptied the folder before the workers started
    sender = WeChatSender(TOKEN, APPID, AES_KEY, "safe")
    sent = 0
    for _ in range(5):  # a worker still starting takes nothing: again until both have answered
        pair = [threading.Thread(target=_send, args=(gunicorn, sender, "slow:0.3")) for _ in range(2)]
        for t in pair:
            t.start()
        for t in pair:
            t.join()
        sent += 2
        if len([n for n in _per_worker(folder).values() if n]) == 2:
            break
    for n in range(3):
        _send(gunicorn, sender, f"echo:{n}")
    sent += 3
    per_worker = _per_worker(folder)
    assert len([n for n in per_worker.values() if n]) == 2, per_worker
    assert sum(per_worker.values()) == sent
    assert [_scraped(gunicorn) for _ in range(4)] == [sent] * 4  # whichever worker answers

