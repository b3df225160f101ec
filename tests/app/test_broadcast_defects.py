"""Broadcast defects an independent test found (issue 17): a quota stop that a resume reported as sent, a dry run
that ignored the monthly limit, and `language` refused as a list. On both back-ends, against the fake WeChat API."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from bot.broadcasts import planning
from bot.broadcasts.service import BroadcastService, PlanError, broadcast_service
from bot.infra.db.models import BroadcastBatch, Follower, MassReceipt

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
TOKEN = "marketing-token-0123456789"


@pytest.fixture
def app(app_factory):  # type: ignore[no-untyped-def]
    app = app_factory(admin__tokens=[TOKEN])
    with app.extensions["yjy"].db.session() as s:
        for table in ("admin_audit", "broadcast_batches", "broadcasts", "mass_receipts", "followers"):
            s.execute(text(f"DELETE FROM {table}"))
    return app


@pytest.fixture
def service(app) -> BroadcastService:  # type: ignore[no-untyped-def]
    return broadcast_service(app.extensions["yjy"])


def seed(service: BroadcastService, n: int, lang: str = "zh-CN", prefix: str = "o") -> list[str]:
    openids = [f"{prefix}{i:06d}" for i in range(n)]
    with service.s.db.session() as s:
        s.execute(insert(Follower), [dict(openid=o, subscribed=True, language=lang, tags=[], created_at=NOW,
                                          last_active_at=NOW) for o in openids])
    return openids


def api(app, method: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
    return app.test_client().open(f"/admin/api{path}", method=method,
                                  headers={"Authorization": f"Bearer {TOKEN}"}, **kwargs)


def batch_rows(service: BroadcastService, bid: int) -> list[BroadcastBatch]:
    with service.s.db.session() as s:
        return list(s.scalars(select(BroadcastBatch).where(BroadcastBatch.broadcast_id == bid)
                              .order_by(BroadcastBatch.seq)))


# --- 1. a quota stop stays resumable; "sent" only when every batch was accepted (or given up) ----------------
def test_a_batch_stopped_by_the_quota_is_retried_by_the_next_send_with_its_clientmsgid(app, service, fake_api):
    seed(service, 10_001)  # two batches: 9,999 + 2
    bid = service.create(service.validate({"name": "q", "audience": {"language": "zh-CN"}, "text": "hi"}), "mei") \
        .broadcast_id
    runner = app.test_cli_runner()
    fake_api.fail("message/mass/send", errcode=45009)
    first = runner.invoke(args=["broadcast", "send", str(bid), "--now"])
    assert first.exit_code == 1 and "45009" in first.output and "--skip-failed" in first.output
    assert service.status(bid).broadcast.status == "stopped"
    status = runner.invoke(args=["broadcast", "status", str(bid)]).output
    assert re.search(r"batch 0 \(9,999 followers\) failed: 45009 .*quota", status), status

    second = runner.invoke(args=["broadcast", "send", str(bid), "--now"])
    assert second.exit_code == 0 and second.output.strip().endswith("sent: 2 batches sent"), second.output
    accepted = fake_api.mass_sends()
    assert [c.body["clientmsgid"] for c in accepted] == [f"yjy-{bid}-0", f"yjy-{bid}-1"]  # the same ids: no duplicate
    assert [b.status for b in batch_rows(service, bid)] == ["sent", "sent"]
    assert service.status(bid).broadcast.status == "sent"
    assert "nothing to send" in runner.invoke(args=["broadcast", "send", str(bid), "--now"]).output


def test_sent_means_every_batch_accepted_unless_the_marketer_skips_the_failed_ones(app, service, fake_api):
    seed(service, 10_001)
    bid = service.create(service.validate({"name": "q", "audience": {"language": "zh-CN"}, "text": "hi"}), "mei") \
        .broadcast_id
    fake_api.fail("message/mass/send", errcode=45009, times=2)  # this send and the retry both hit the quota
    assert service.send_now(bid, sleep=lambda s: None).status == "stopped"
    again = service.send_now(bid, sleep=lambda s: None)
    assert again.status == "stopped" and "45009" in again.error
    assert service.status(bid).broadcast.status == "stopped" and fake_api.mass_sends() == []

    # Giving up is explicit, through the API here: the failed batch is skipped, the rest goes out.
    response = api(app, "POST", f"/broadcasts/{bid}/send", json={"skip_failed": True})
    assert response.status_code == 202 and response.json["skipped"] == {"batches": 1, "followers": 9_999}
    ext = app.extensions["yjy"]
    if not ext.config.embedded_redis:  # real Redis: run the RQ worker the job waits for
        from bot.infra.queue import BurstWorker

        with app.app_context():
            BurstWorker([ext.queue], connection=ext.redis).work(burst=True)
    shown = api(app, "GET", f"/broadcasts/{bid}").json
    assert shown["status"] == "sent" and shown["not_reached"] == 9_999
    assert [b["status"] for b in shown["batches"]] == ["skipped", "sent"]
    assert [c.body["clientmsgid"] for c in fake_api.mass_sends()] == [f"yjy-{bid}-1"]
    status = app.test_cli_runner().invoke(args=["broadcast", "status", str(bid)]).output
    assert "9,999 followers not reached" in status and re.search(r"batch 0 \(9,999 followers\) skipped", status)


def test_skip_failed_from_the_cli_says_how_many_followers_are_given_up(app, service, fake_api):
    seed(service, 4)
    bid = service.create(service.validate({"name": "q", "audience": {"all": True}, "text": "hi"}), "mei").broadcast_id
    fake_api.fail("message/mass/sendall", errcode=45009)
    assert service.send_now(bid, sleep=lambda s: None).status == "stopped"
    out = app.test_cli_runner().invoke(args=["broadcast", "send", str(bid), "--now", "--skip-failed"])
    assert out.exit_code == 0 and "4 followers will not get this broadcast" in out.output, out.output
    assert service.status(bid).broadcast.status == "sent" and fake_api.mass_sends() == []


# --- 2. the dry run counts what create freezes: the monthly limit of 4, and the same refusal ------------------
def _used_up(service: BroadcastService, openids: list[str]) -> None:
    month = planning.month_of(service.s.clock.now())
    with service.s.db.session() as s:
        s.execute(insert(MassReceipt), [dict(openid=o, month=month, received=4) for o in openids])


def test_the_dry_run_leaves_out_followers_at_the_monthly_limit_like_create(app, service, tmp_path):
    openids = seed(service, 4)
    _used_up(service, openids[:2])
    draft = service.validate({"name": "5th", "audience": {"language": "zh-CN"}, "text": "hi"})
    dry = service.dry_run(draft)
    plan = service.create(draft, "mei")
    assert (dry.audience, dry.batches, dry.skipped_monthly_limit) == (plan.audience, plan.batches,
                                                                      plan.skipped_monthly_limit) == (2, 1, 2)
    assert dry.sample == openids[2:]
    out = app.test_cli_runner().invoke(args=["broadcast", "create", "--dry-run", _file(tmp_path, "language: zh-CN")])
    assert "2 subscribed followers" in out.output and "2 skipped" in out.output, out.output


def test_a_dry_run_of_nobody_is_refused_the_way_create_refuses_it(app, service, tmp_path):
    _used_up(service, seed(service, 2))
    body = {"name": "5th", "audience": {"language": "zh-CN"}, "text": "hi"}
    with pytest.raises(PlanError, match="empty") as dry_error:
        service.dry_run(service.validate(body))
    with pytest.raises(PlanError) as create_error:
        service.create(service.validate(body), "mei")
    assert str(dry_error.value) == str(create_error.value)
    dry, created = api(app, "POST", "/broadcasts", json={**body, "dry_run": True}), api(app, "POST", "/broadcasts",
                                                                                         json=body)
    assert dry.status_code == created.status_code == 422 and dry.json == created.json
    out = app.test_cli_runner().invoke(args=["broadcast", "create", "--dry-run", _file(tmp_path, "language: zh-CN")])
    assert out.exit_code == 1 and str(create_error.value) in out.output


def _file(tmp_path: Path, audience: str) -> str:
    path = tmp_path / "broadcast.yaml"
    path.write_text(f"name: x\naudience: {{{audience}}}\ntext: hi\n", encoding="utf-8")
    return str(path)


# --- 3. `language` takes a code or a list, like the other filters ----------------------------------------------
@pytest.mark.parametrize("language,expected", [("en", ["e000000", "e000001"]),
                                               (["en"], ["e000000", "e000001"]),
                                               (["en", "ko"], ["e000000", "e000001", "k000000", "k000001"])])
def test_language_is_a_code_or_a_list(app, service, tmp_path, language, expected):
    seed(service, 2), seed(service, 2, "en", "e"), seed(service, 2, "ko", "k")
    body = {"name": "x", "audience": {"language": language}, "text": "hi"}
    dry = api(app, "POST", "/broadcasts", json={**body, "dry_run": True})
    assert dry.status_code == 200 and dry.json["audience"] == len(expected), dry.json
    created = api(app, "POST", "/broadcasts", json=body)
    assert created.status_code == 201
    assert [o for b in batch_rows(service, created.json["id"]) for o in b.openids] == expected
    as_yaml = "language: " + (language if isinstance(language, str) else "[" + ", ".join(language) + "]")
    draft = service.load_file(Path(_file(tmp_path, as_yaml)))
    assert list(draft.segment.openids_in(service.s.db, NOW)) == expected


def test_texts_per_language_with_a_language_list(app, service, fake_api):
    seed(service, 2), seed(service, 2, "en", "e"), seed(service, 2, "ko", "k")
    body = {"name": "x", "audience": {"language": ["en", "ko"]}, "text": {"zh-CN": "首尔下雪啦", "en": "Snow"}}
    plan = service.create(service.validate(body), "mei")
    assert service.send_now(plan.broadcast_id, sleep=lambda s: None).status == "sent"
    sent = {c.body["text"]["content"]: sorted(c.body["touser"]) for c in fake_api.mass_sends()}
    assert sent == {"Snow": ["e000000", "e000001"], "首尔下雪啦": ["k000000", "k000001"]}  # ko: the default text


def test_a_bad_language_names_the_field(app):
    bad = api(app, "POST", "/broadcasts", json={"name": "x", "audience": {"language": ["en", 3]}, "text": "hi"})
    assert bad.status_code == 400 and bad.json["field"] == "audience.language"
