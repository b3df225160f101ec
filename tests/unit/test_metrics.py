"""Metrics without an app: bounded labels, the `metrics` config, who counts as an allowed address, and the
scrape-time figures (cache, errors, job counters, live-data age) on fakeredis."""
from __future__ import annotations

import ipaddress
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import fakeredis
import pytest
import redis
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from bot.infra import metrics
from bot.infra.config import ConfigError, load_config
from bot.infra.keys import Keys
from bot.web.metrics import _allowed
from tests.builders import CONFIG_YAML as BASE

LOCAL = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


def parsed(body: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(body.decode()) for s in family.samples}


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class Route:
    def __init__(self, name: str) -> None:
        self.name = name


def test_labels_stay_bounded_whatever_the_message_says():
    before = parsed(metrics.exposition())
    metrics.replied("text", Route("probe.probe"), "<xml/>")
    metrics.replied("hacked\"kind", Route("openid o123 said: 你好"), "success")  # neither is a label value
    metrics.late("event", None)
    after = parsed(metrics.exposition())
    moved = {k: after[k] - before.get(k, 0.0) for k in after if after[k] != before.get(k, 0.0)}
    assert moved == {
        ("yjy_messages_total", (("kind", "text"), ("outcome", "replied"), ("route", "probe.probe"))): 1.0,
        ("yjy_messages_total", (("kind", "other"), ("outcome", "no_reply"), ("route", "other"))): 1.0,
        ("yjy_messages_total", (("kind", "event"), ("outcome", "late"), ("route", "none"))): 1.0,
    }


def test_series_alerts_rely_on_exist_before_the_first_event():
    samples = parsed(metrics.exposition())
    for reply in ("cached", "success"):
        assert ("yjy_dedup_hits_total", (("reply", reply),)) in samples
    for status in ("400", "403", "413"):
        assert ("yjy_webhook_rejected_total", (("status", status),)) in samples
    assert ("yjy_reply_seconds_bucket", (("le", "4.75"),)) in samples  # the region near WeChat's 5 s


# --- config -------------------------------------------------------------------------------------------------------
def write(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(BASE + extra)
    return path


def test_metrics_default_to_this_host_and_take_the_token_from_the_environment(tmp_path):
    config = load_config(write(tmp_path, ""), environ={"METRICS_TOKEN": "m" * 24})
    assert config.metrics.allow == LOCAL
    assert config.metrics.token == "m" * 24 and "m" * 24 in config.secrets  # redacted from logs
    assert "m" * 24 not in repr(config)
    config = load_config(write(tmp_path, "metrics:\n  allow: [10.0.0.0/8, 192.168.1.7, \"fd00::/8\"]\n"), environ={})
    assert [str(n) for n in config.metrics.allow] == ["10.0.0.0/8", "192.168.1.7/32", "fd00::/8"]
    assert load_config(write(tmp_path, "metrics:\n  allow: []\n"), environ={}).metrics.allow == ()


@pytest.mark.parametrize("extra,says", [
    ("metrics:\n  allow: 10.0.0.0/8\n", "must be a list of networks"),
    ("metrics:\n  allow: [10.0.0.1/8]\n", "'10.0.0.1/8' is not a network in CIDR form (10.0.0.1/8 has host bits set)"),
    ("metrics:\n  allow: [intranet]\n", "'intranet' is not a network"),
    ("metrics:\n  token: short\n", "metrics.token: must be at least 16 characters"),
])
def test_bad_metrics_settings_name_the_key_and_line(tmp_path, extra, says):
    path = write(tmp_path, extra)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert says in message and str(path) in message and "line " in message
    assert ("metrics.allow" if "allow" in extra else "metrics.token") in message


def test_a_short_token_from_the_environment_names_the_variable_not_the_value(tmp_path):
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, ""), environ={"METRICS_TOKEN": "tiny-secret"})
    assert "METRICS_TOKEN" in str(info.value) and "tiny-secret" not in str(info.value)


@pytest.mark.parametrize("address,allowed", [
    ("127.0.0.1", True), ("::1", True), ("::ffff:127.0.0.1", True),  # a dual-stack socket's IPv4 peer
    ("127.0.0.2", False), ("10.0.0.1", False), ("fe80::1%eth0", False), ("", False), (None, False),
    ("not-an-address", False),
])
def test_allowed_addresses(address, allowed):
    assert _allowed(address, LOCAL) is allowed


# --- the figures ---------------------------------------------------------------------------------------------------
class BrokenDb:
    def __init__(self) -> None:
        self.sessions = 0

    def session(self) -> Any:
        self.sessions += 1
        raise ConnectionError("database down")


def figures(client: Any, db: Any = None, live: dict | None = None, **kwargs: Any) -> metrics.Figures:
    return metrics.Figures(db or BrokenDb(), client, Keys("wxtest"), live or {}, **kwargs)


def test_a_database_that_is_down_is_an_error_sample_and_is_asked_once_per_period(caplog):
    client = fakeredis.FakeRedis()
    now = [100.0]
    db = BrokenDb()
    f = figures(client, db, every=30, clock=lambda: now[0])
    with caplog.at_level(logging.WARNING):
        samples = parsed(metrics.exposition(f))
    for figure in ("bookings", "refunds", "payments", "broadcasts", "inbox"):
        assert value(samples, "yjy_scrape_errors", figure=figure) == 1
    assert value(samples, "yjy_scrape_errors", figure="jobs") == 0  # Redis answered
    assert not any(name == "yjy_bookings" for name, _ in samples)
    assert "the bookings figure not read: ConnectionError" in caplog.text
    now[0] += 29
    parsed(metrics.exposition(f))
    assert db.sessions == 1  # cached: the scrape did not ask again
    now[0] += 1
    parsed(metrics.exposition(f))
    assert db.sessions == 2


def test_job_counts_live_in_redis_and_every_series_exists():
    client = fakeredis.FakeRedis()
    keys = Keys("wxtest")
    metrics.late_reply(client, keys, "sent")
    metrics.late_reply(client, keys, "sent")
    metrics.broadcast_batch(client, keys, "failed")
    samples = parsed(metrics.exposition(figures(client)))
    assert value(samples, "yjy_late_replies_total", result="sent") == 2
    assert value(samples, "yjy_late_replies_total", result="failed") == 0
    assert ("yjy_late_replies_total", (("result", "unknown"),)) in samples
    assert value(samples, "yjy_broadcast_batches_total", result="failed") == 1
    assert value(samples, "yjy_broadcast_batches_total", result="sent") == 0
    with pytest.raises(ValueError, match="late_replies:lost is not a job count"):
        metrics.late_reply(client, keys, "lost")


class DownRedis:
    def __getattr__(self, name: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> Any:
            raise redis.ConnectionError("Redis down")
        return fail


def test_a_job_count_redis_cannot_take_is_lost_not_raised(caplog):
    down = DownRedis()
    with caplog.at_level(logging.WARNING):
        metrics.late_reply(down, Keys("wxtest"), "sent")
    assert "late_replies:sent not counted, Redis error ConnectionError" in caplog.text
    samples = parsed(metrics.exposition(figures(down)))
    assert value(samples, "yjy_scrape_errors", figure="jobs") == 1
    assert value(samples, "yjy_scrape_errors", figure="live") == 0  # no source configured: nothing to read


def test_live_age_is_the_newest_reading_of_a_source():
    client = fakeredis.FakeRedis()
    now = time.time()
    client.set("crowd:a", json.dumps({"data": {}, "fetched_at": now - 900}))
    client.set("crowd:b", json.dumps({"data": {}, "fetched_at": now - 60}))
    client.set("crowd:c", "not json")  # unreadable: ignored
    client.set("rates", json.dumps({"table": {}, "fetched_at": now - 3600}))
    live = {"crowds": ["crowd:a", "crowd:b", "crowd:c", "crowd:missing"], "rates": ["rates"], "air": ["air:none"],
            "weather": []}
    samples = parsed(metrics.exposition(figures(client, live=live)))
    assert 59 <= value(samples, "yjy_live_data_age_seconds", source="crowds") < 70
    assert 3599 <= value(samples, "yjy_live_data_age_seconds", source="rates") < 3610
    assert ("yjy_live_data_age_seconds", (("source", "air"),)) not in samples  # nothing cached: no series
    assert ("yjy_live_data_age_seconds", (("source", "weather"),)) not in samples


# --- gunicorn's settings: the multiprocess folder -------------------------------------------------------------------
HOOKS = """
import importlib, json, os, sys
conf = importlib.import_module("bot.web.gunicorn_conf")  # as `gunicorn -c python:bot.web.gunicorn_conf` does
# Workers inherit the master's modules: metrics made before the variable is set would count per process.
assert "bot.infra.metrics" not in sys.modules
folder = os.environ["PROMETHEUS_MULTIPROC_DIR"]
open(os.path.join(folder, "counter_4242.db"), "w").close()  # a previous run's counters
server = type("Server", (), {"cfg": type("Cfg", (), {"uid": os.geteuid(), "gid": os.getegid()})})()
conf.on_starting(server)
emptied = os.listdir(folder) == []
conf.on_exit(server)
print(json.dumps({"folder": folder, "emptied": emptied, "kept": os.path.isdir(folder)}))
"""


def _hooks(environ: dict[str, str]) -> dict[str, Any]:
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"} | environ
    done = subprocess.run([sys.executable, "-c", HOOKS], env=env, capture_output=True, text=True, timeout=30,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_gunicorn_makes_a_private_folder_empties_it_at_start_and_removes_it_at_exit():
    import tempfile

    found = _hooks({})
    assert Path(found["folder"]).parent == Path(tempfile.gettempdir())
    assert Path(found["folder"]).name.startswith("yjy-metrics-")
    assert found["emptied"] and not found["kept"]


def test_the_operators_folder_is_created_emptied_and_kept(tmp_path):
    folder = tmp_path / "not-yet" / "prometheus"
    found = _hooks({"PROMETHEUS_MULTIPROC_DIR": str(folder)})
    assert found == {"folder": str(folder), "emptied": True, "kept": True}


LATE_VARIABLE = """
import os, sys
import prometheus_client  # some library imported it before the variable was set
os.environ["PROMETHEUS_MULTIPROC_DIR"] = sys.argv[1]
from bot.infra import metrics
metrics.webhook_failed()
print(" ".join(sorted(os.listdir(sys.argv[1]))))
"""


def test_metrics_count_in_files_even_when_prometheus_client_came_before_the_variable(tmp_path):
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run([sys.executable, "-c", LATE_VARIABLE, str(tmp_path / "prometheus")], env=env,
                          capture_output=True, text=True, timeout=30, cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    files = done.stdout.split()
    assert [f for f in files if f.startswith("counter_")], files  # in a file, not in that process's memory
    merged = MultiProcessCollector(None, str(tmp_path / "prometheus")).collect()
    assert [s.value for m in merged if m.name == "yjy_webhook_errors" for s in m.samples] == [1.0]
