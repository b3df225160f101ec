"""Across processes: gunicorn with 2 workers sharing real Redis and PostgreSQL, and an RQ worker."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC
from pathlib import Path
from typing import Iterator

import pytest
import redis
import requests

from bot.devtools import sender as build
from bot.devtools.sender import WeChatSender
from tests.support import AES_KEY, APPID, REDIS_URL, SECRET, TOKEN

pytestmark = pytest.mark.servers
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server_env(tmp_path, pg_url, real_redis, fake_api, request) -> dict[str, str]:  # type: ignore[no-untyped-def]
    """Environment for gunicorn and the CLI: the probe handlers, unless the test is marked real_handlers."""
    config = (ROOT / "config.yaml").read_text()
    if request.node.get_closest_marker("real_handlers") is None:
        config = config.replace("routers: handlers:ROUTERS", "routers: tests.probe_handlers:ROUTERS")
        config = config.replace("reply_deadline_seconds: 4.0", "reply_deadline_seconds: 0.5")
    path = tmp_path / "config.yaml"
    path.write_text(config)
    env = dict(os.environ, BOT_CONFIG=str(path), WECHAT_TOKEN=TOKEN, WECHAT_APPID=APPID,
               WECHAT_APPSECRET=SECRET, WECHAT_ENCODING_AES_KEY=AES_KEY, WECHAT_API_BASE_URL=fake_api.base_url,
               REDIS_URL=REDIS_URL, DATABASE_URL=pg_url, PROBE_REDIS_URL=REDIS_URL, PYTHONPATH=str(ROOT))
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=60)
    return env


def _start_gunicorn(server_env) -> tuple[subprocess.Popen, str]:  # type: ignore[no-untyped-def]
    """gunicorn as production runs it (the shipped config: threaded workers, access log without query strings)."""
    port = _free_port()
    proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", "python:bot.web.gunicorn_conf", "-w", "2",
                             "-b", f"127.0.0.1:{port}", "--graceful-timeout", "2", "wsgi:app"], cwd=ROOT,
                            env=server_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
    return proc, f"http://127.0.0.1:{port}"


def _wait_ready(proc: subprocess.Popen, url: str) -> None:  # type: ignore[type-arg]
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if requests.get(f"{url}/readyz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    pytest.fail("gunicorn did not become ready:\n" + proc.stdout.read1().decode(errors="replace"))  # type: ignore[union-attr]


@pytest.fixture
def gunicorn(server_env) -> Iterator[str]:  # type: ignore[no-untyped-def]
    proc, url = _start_gunicorn(server_env)
    try:
        _wait_ready(proc, url)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=10)


def _post(url: str, sender: WeChatSender, xml: str) -> requests.Response:
    req = sender.request(xml)
    return requests.post(f"{url}/wechat", params=req.query, data=req.body, timeout=10)


def test_three_concurrent_retries_across_two_workers_run_the_handler_once(gunicorn, real_redis):
    sender = WeChatSender(TOKEN, APPID, AES_KEY, "safe")
    xml = build.text("o-multi", "slow:0.3:multi", msg_id=90001)
    bodies: list[str] = []
    barrier = threading.Barrier(3)

    def deliver() -> None:
        barrier.wait()
        response = _post(gunicorn, sender, xml)
        assert response.status_code == 200
        bodies.append(sender.read_reply(response.content))

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(bodies) == 3
    assert int(real_redis.get("probe:runs:slow:0.3:multi")) == 1
    answered = [b for b in bodies if b != "success"]
    assert answered and all("slept 0.3" in b for b in answered)
    assert len(set(answered)) == 1  # a late retry gets the cached reply, byte for byte


def test_late_reply_goes_through_the_rq_worker_cli(gunicorn, server_env, fake_api):
    sender = WeChatSender(TOKEN, APPID, AES_KEY, "compatible")
    response = _post(gunicorn, sender, build.text("o-late", "slow:1.0", msg_id=90002))
    assert response.content == b"success"
    queue_key = "rq:queue:yjy"
    client = redis.Redis.from_url(REDIS_URL)
    deadline = time.time() + 5
    while not client.llen(queue_key) and time.time() < deadline:
        time.sleep(0.05)
    assert client.llen(queue_key) == 1
    subprocess.run([str(BIN / "flask"), "--app", "wsgi", "worker", "--burst"], cwd=ROOT, env=server_env,
                   check=True, capture_output=True, timeout=60)
    calls = fake_api.wait_for("message/custom/send")
    assert [c.body for c in calls] == [{"touser": "o-late", "msgtype": "text", "text": {"content": "slept 1.0"}}]


def test_broadcast_killed_mid_send_resumes_without_sending_a_batch_twice(server_env, pg_url, fake_api):
    """A real `broadcast send --now` process is killed while WeChat is taking its second batch."""
    from datetime import datetime

    from sqlalchemy import insert, text

    from bot.broadcasts import planning as broadcasts
    from bot.broadcasts.segments import parse_segment
    from bot.infra.db import Database
    from bot.infra.db.models import Follower

    db = Database(pg_url)
    with db.session() as s:
        for table in ("broadcast_batches", "broadcasts", "mass_receipts", "followers"):
            s.execute(text(f"DELETE FROM {table}"))
        now = datetime.now(UTC)
        s.execute(insert(Follower), [dict(openid=f"o{i:06d}", subscribed=True, language="zh-CN", tags=[],
                                          created_at=now, last_active_at=now) for i in range(20_001)])
    plan = broadcasts.create(db, "kill", {"text": "hi", "audience": {"all": True}},
                             parse_segment({"active_days": 30}), "test", datetime.now(UTC))
    assert plan.batches == 3
    fake_api.fail("message/mass/send", delay=0)  # batch 0: at once
    fake_api.fail("message/mass/send", delay=3)  # batch 1: WeChat takes it, slowly
    cmd = [str(BIN / "flask"), "--app", "wsgi", "broadcast", "send", str(plan.broadcast_id), "--now"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=server_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 30
    while len(fake_api.calls_to("message/mass/send")) < 2 and time.time() < deadline:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)  # dies before it hears WeChat accept batch 1
    proc.wait(timeout=10)
    time.sleep(3.5)  # the fake WeChat finishes accepting batch 1 anyway

    done = subprocess.run(cmd, cwd=ROOT, env=server_env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "sent:" in done.stdout, done.stdout + done.stderr
    accepted = [c.body["clientmsgid"] for c in fake_api.mass_sends()]
    assert sorted(accepted) == [f"yjy-{plan.broadcast_id}-{i}" for i in range(3)]  # each exactly once
    refused = [c for c in fake_api.calls_to("message/mass/send") if c.response.get("errcode") == 45065]
    assert [c.body["clientmsgid"] for c in refused] == [f"yjy-{plan.broadcast_id}-1"]
    with db.session() as s:
        statuses = s.execute(text("SELECT seq, status FROM broadcast_batches WHERE broadcast_id = :b ORDER BY seq"),
                             {"b": plan.broadcast_id}).all()
    assert [tuple(r) for r in statuses] == [(0, "sent"), (1, "sent"), (2, "sent")]
    db.dispose()


@pytest.mark.real_handlers
def test_replay_cli_against_gunicorn_in_safe_mode(gunicorn, tmp_path):
    """A tester's release check: fixtures against two workers on real Redis and PostgreSQL, encrypted."""
    fixture = tmp_path / "release.yaml"
    fixture.write_text("""\
conversations:
  - name: palace_card_and_help
    steps:
      - send: {text: 景福宫几点开门}
        expect: {type: news, title_contains: 景福宫, url_regex: "/p/attractions/gyeongbokgung"}
      - send: {text: 帮助}
        expect: {type: text, contains: 景福宫}
  - name: menu_and_location
    steps:
      - send: {click: RATES}
        expect: {type: text, contains: 参考汇率}
      - send: {location: {lat: 37.5636, lng: 126.9827, label: 明洞}}
        expect: {type: text, contains: 离明洞最近的好去处}
      - send: {event: unsubscribe}
        expect: {no_reply: true}
""", encoding="utf-8")
    report = tmp_path / "junit.xml"
    done = subprocess.run([str(BIN / "yijiyou"), "replay", str(fixture), "--url", f"{gunicorn}/wechat",
                           "--token", TOKEN, "--appid", APPID, "--aes-key", AES_KEY, "--junit", str(report)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"against {gunicorn}/wechat (safe mode)" in done.stdout
    assert "2 conversations, 5 turns: 2 passed, 0 failed" in done.stdout
    assert 'failures="0"' in report.read_text()


def test_the_access_log_shows_no_signature_or_openid(server_env):
    proc, url = _start_gunicorn(server_env)
    try:
        _wait_ready(proc, url)
        sender = WeChatSender(TOKEN, APPID, AES_KEY, "safe")
        assert _post(url, sender, build.text("o-logged-secret", "ping", msg_id=90077)).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=10)[0].decode(errors="replace")
    access = [line for line in out.splitlines() if '"POST /wechat' in line]
    assert access and '"POST /wechat HTTP/1.1" 200' in access[0]  # the access log is on
    assert not any("signature" in line or "o-logged-secret" in line or "nonce" in line for line in access)
