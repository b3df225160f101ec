"""Sending broadcasts against the fake WeChat API over real HTTP: batches, resume, retries, quota stop,
job-finish accounting."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text

from bot.broadcasts import planning as broadcasts
from bot.broadcasts import sending as broadcast_send
from bot.broadcasts.segments import parse_segment
from bot.devtools import sender as build
from bot.infra.db.models import Broadcast, BroadcastBatch, Follower, MassReceipt
from bot.wechat.gateway import WeChatGateway

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@pytest.fixture
def ext(app):  # type: ignore[no-untyped-def]
    e = app.extensions["yjy"]
    with e.db.session() as s:
        for table in ("broadcast_batches", "broadcasts", "followers", "mass_receipts"):
            s.execute(text(f"DELETE FROM {table}"))
    return e


def seed(ext, n: int) -> None:  # type: ignore[no-untyped-def]
    with ext.db.session() as s:
        s.execute(insert(Follower), [dict(openid=f"o{i:06d}", subscribed=True, language="zh-CN", tags=[],
                                          created_at=NOW, last_active_at=NOW) for i in range(n)])


def plan(ext, audience=None, spec=None):  # type: ignore[no-untyped-def]
    audience = audience or {"language": "zh-CN"}
    spec = spec or {"text": "首尔冬日优惠来啦", "audience": audience}
    return broadcasts.create(ext.db, "test", spec, parse_segment(audience), "tester", NOW)


def run(ext, bid: int, **kwargs):  # type: ignore[no-untyped-def]
    return broadcast_send.send(ext.db, WeChatGateway(ext.api), ext.redis, ext.keys, bid, sleep=lambda s: None,
                               **kwargs)


def batches_of(ext, bid: int) -> list[BroadcastBatch]:  # type: ignore[no-untyped-def]
    with ext.db.session() as s:
        return list(s.scalars(select(BroadcastBatch).where(BroadcastBatch.broadcast_id == bid)
                              .order_by(BroadcastBatch.seq)))


@pytest.mark.parametrize("n,sizes", [(2, [2]), (10_000, [10_000]), (10_001, [9_999, 2])])
def test_openid_batches_go_out_once_each_with_their_clientmsgid(ext, fake_api, n, sizes):
    seed(ext, n)
    p = plan(ext)
    report = run(ext, p.broadcast_id)
    assert report.status == "sent" and report.sent == list(range(len(sizes)))
    calls = fake_api.mass_sends()
    assert [len(c.body["touser"]) for c in calls] == sizes
    assert [c.body["clientmsgid"] for c in calls] == [f"yjy-{p.broadcast_id}-{i}" for i in range(len(sizes))]
    assert calls[0].body["text"]["content"] == "首尔冬日优惠来啦" and calls[0].body["msgtype"] == "text"
    assert all(b.status == "sent" and b.msg_id for b in batches_of(ext, p.broadcast_id))


def test_one_recipient_is_refused_before_anything_reaches_wechat(ext, fake_api):
    seed(ext, 1)
    with pytest.raises(broadcasts.PlanError, match="at least 2 recipients"):
        plan(ext)
    assert fake_api.mass_sends() == []


def test_all_followers_go_through_send_to_all(ext, fake_api):
    seed(ext, 3)
    p = plan(ext, {"all": True})
    assert run(ext, p.broadcast_id).status == "sent"
    (call,) = fake_api.mass_sends()
    assert call.path == "message/mass/sendall" and call.body["filter"] == {"is_to_all": True}


def test_a_batch_that_went_out_before_a_crash_is_not_sent_twice(ext, fake_api):
    seed(ext, 10_001)
    p = plan(ext)
    first = batches_of(ext, p.broadcast_id)[0]
    # The process sent batch 0 and died before recording it: WeChat has it, our row says pending.
    fake_api_client_send = WeChatGateway(ext.api).send_mass({"msgtype": "text", "text": {"content": "x"}},
                                                            clientmsgid=first.clientmsgid, openids=first.openids)
    report = run(ext, p.broadcast_id)
    assert report.status == "sent"
    accepted = fake_api.mass_sends()
    assert [c.body["clientmsgid"] for c in accepted] == [first.clientmsgid, f"yjy-{p.broadcast_id}-1"]
    rows = batches_of(ext, p.broadcast_id)
    assert rows[0].msg_id == str(fake_api_client_send["msg_id"])  # the job WeChat already had
    assert run(ext, p.broadcast_id).sent == []  # a third run finds nothing left to send


def test_transient_errors_are_retried(ext, fake_api):
    seed(ext, 4)
    p = plan(ext)
    fake_api.fail("message/mass/send", status=502)
    fake_api.fail("message/mass/send", errcode=-1)
    report = run(ext, p.broadcast_id)
    assert report.status == "sent"
    (batch,) = batches_of(ext, p.broadcast_id)
    assert batch.attempts == 3 and len(fake_api.mass_sends()) == 1


def test_a_timed_out_call_is_retried_and_wechats_late_acceptance_counts_once(ext, fake_api):
    seed(ext, 4)
    p = plan(ext)
    ext.api.timeout = 0.3
    fake_api.fail("message/mass/send", delay=1.0)  # WeChat takes the batch but answers after our timeout
    report = run(ext, p.broadcast_id)
    assert report.status == "sent"
    (batch,) = batches_of(ext, p.broadcast_id)
    calls = fake_api.calls_to("message/mass/send")
    assert batch.attempts == 2 and len(fake_api.mass_sends()) == 1
    assert calls[1].response["errcode"] == 45065 and batch.msg_id == str(calls[0].response["msg_id"])


def test_quota_error_stops_with_the_reason_and_resume_sends_the_rest(ext, fake_api):
    seed(ext, 10_001)
    p = plan(ext)
    fake_api.fail("message/mass/send", errcode=45028)
    report = run(ext, p.broadcast_id)
    assert report.status == "stopped" and "45028" in report.error and "quota" in report.error
    with ext.db.session() as s:
        assert s.get(Broadcast, p.broadcast_id).status == "stopped"
    assert [b.status for b in batches_of(ext, p.broadcast_id)] == ["failed", "pending"]
    assert fake_api.mass_sends() == []


def test_gives_up_after_max_attempts_and_leaves_the_batch_pending(ext, fake_api):
    seed(ext, 2)
    p = plan(ext)
    for _ in range(3):
        fake_api.fail("message/mass/send", status=503)
    report = run(ext, p.broadcast_id, max_attempts=3)
    assert report.status == "stopped" and "resume" in report.error
    assert [b.status for b in batches_of(ext, p.broadcast_id)] == ["pending"]
    assert run(ext, p.broadcast_id).status == "sent"  # resumed later, once WeChat is back


def test_cancelled_broadcast_sends_nothing(ext, fake_api):
    seed(ext, 2)
    p = plan(ext)
    with ext.db.session() as s:
        s.get(Broadcast, p.broadcast_id).status = "cancelled"
    assert run(ext, p.broadcast_id).status == "cancelled" and fake_api.mass_sends() == []


def test_job_finish_event_fills_in_the_batch_counts(ext, fake_api):
    seed(ext, 2)
    p = plan(ext)
    run(ext, p.broadcast_id)
    (batch,) = batches_of(ext, p.broadcast_id)
    assert broadcast_send.record_job_finish(ext.db, batch.msg_id, {"TotalCount": 2, "SentCount": 1,
                                                                  "ErrorCount": 0, "FilterCount": 1})
    (batch,) = batches_of(ext, p.broadcast_id)
    assert (batch.total_count, batch.sent_count, batch.filter_count) == (2, 1, 1)
    assert not broadcast_send.record_job_finish(ext.db, "999999999", {"TotalCount": 1})


def test_job_finish_event_through_the_webhook_reaches_the_results(ext, app, fake_api, wechat):
    seed(ext, 3)
    p = plan(ext)
    runner = app.test_cli_runner()
    waiting = runner.invoke(args=["broadcast", "status", str(p.broadcast_id)]).output
    assert "0 of 1 batch sent; WeChat has not reported yet" in waiting
    run(ext, p.broadcast_id)
    (batch,) = batches_of(ext, p.broadcast_id)
    # WeChat's FilterCount is what is left after its filters (one follower had refused our messages)
    reply = wechat.post(build.event("gh_system", "MASSSENDJOBFINISH", MsgID=batch.msg_id, Status="send success",
                                    TotalCount="3", FilterCount="2", SentCount="1", ErrorCount="1"))
    assert reply.data == b"success"
    (batch,) = batches_of(ext, p.broadcast_id)
    assert (batch.total_count, batch.sent_count, batch.error_count) == (3, 1, 1)
    status = runner.invoke(args=["broadcast", "status", str(p.broadcast_id)]).output
    assert "1 of 1 batch sent; WeChat reported 1: 1 of 3 delivered, 1 failed, 1 filtered out by WeChat" in status
    assert re.search(r"\n +0 +3 sent +1 \S+ +3 +1 +1 +1\n", status), status
    listing = runner.invoke(args=["broadcast", "list"]).output.splitlines()
    assert listing[0].split() == ["id", "status", "audience", "delivered", "created", "(Seoul)", "name"]
    assert listing[1].split()[:4] == [str(p.broadcast_id), "sent", "3", "1"]
    assert broadcasts.results(ext.db, [p.broadcast_id, 999999]) == {
        p.broadcast_id: broadcasts.Results(batches=1, batches_sent=1, batches_reported=1, total=3, delivered=1,
                                           failed=1, filtered_out=1),
        999999: broadcasts.Results(0, 0, 0, 0, 0, 0, 0)}


class _Slept(Exception):
    pass


def test_rate_limit_waits_for_the_next_minute(ext):
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        raise _Slept  # the clock cannot move in a test: stop at the first wait

    rate = broadcast_send.MinuteRate(ext.redis, "test:rate", limit=2, sleep=sleep)
    rate.wait()
    rate.wait()
    assert slept == []
    with pytest.raises(_Slept):
        rate.wait()  # the third call in the same minute has to wait
    assert len(slept) == 1 and 0 < slept[0] <= 60


def test_cli_from_file_to_results(ext, app, fake_api, tmp_path):
    seed(ext, 3)
    runner = app.test_cli_runner()
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\naudience: {colour: red}\ntext: hi\n")
    result = runner.invoke(args=["broadcast", "create", str(bad)])
    assert result.exit_code != 0 and "bad.yaml, line 2" in result.output and "audience.colour" in result.output
    bad.write_text("name: x\ntext: hi\naudience:\n  language: zh-CN\n  interests: [kpop]\n")
    result = runner.invoke(args=["broadcast", "create", str(bad), "--dry-run"])
    assert result.exit_code != 0 and "bad.yaml, line 5: audience.interests: 'kpop' is not an id" in result.output

    good = tmp_path / "winter.yaml"
    good.write_text("name: 冬日首尔\naudience: {language: zh-CN}\ntext: 首尔下雪啦\n")
    dry = runner.invoke(args=["broadcast", "create", str(good), "--dry-run"])
    assert dry.exit_code == 0 and "3 subscribed followers" in dry.output and "o000000" in dry.output
    with ext.db.session() as s:
        assert s.scalar(text("SELECT count(*) FROM broadcasts")) == 0  # a dry run plans nothing

    created = runner.invoke(args=["broadcast", "create", str(good)])
    assert created.exit_code == 0, created.output
    bid = int(created.output.split()[1])
    sent = runner.invoke(args=["broadcast", "send", str(bid), "--now"])
    assert sent.exit_code == 0 and "sent: 1 batch sent" in sent.output, sent.output
    status = runner.invoke(args=["broadcast", "status", str(bid)])
    assert "sent, 3 recipients" in status.output and "yjy" not in status.output
    assert len(fake_api.mass_sends()) == 1
    assert "already sent" in runner.invoke(args=["broadcast", "cancel", str(bid)]).output
    again = runner.invoke(args=["broadcast", "send", str(bid)])  # queued again, it would go to nobody new
    assert again.exit_code == 1 and f"broadcast {bid} is sent: nothing to send" in again.output
    unknown = runner.invoke(args=["broadcast", "send", "999999", "--now"])
    assert unknown.exit_code == 1 and "no broadcast 999999" in unknown.output and unknown.exception is not None
    assert isinstance(unknown.exception, SystemExit)  # a clean exit, not a traceback


def test_followers_at_the_monthly_limit_are_skipped_and_counted(ext, fake_api):
    seed(ext, 5)
    with ext.db.session() as s:
        s.execute(insert(MassReceipt), [dict(openid="o000000", month="2026-11", received=4),
                                        dict(openid="o000001", month="2026-11", received=3),
                                        dict(openid="o000002", month="2026-10", received=4)])
    p = plan(ext)
    assert (p.audience, p.skipped_monthly_limit) == (4, 1)
    run(ext, p.broadcast_id)
    assert "o000000" not in fake_api.mass_sends()[0].body["touser"]
    with ext.db.session() as s:
        received = dict(s.execute(select(MassReceipt.openid, MassReceipt.received)
                                  .where(MassReceipt.month == "2026-11")).all())
    assert received == {"o000000": 4, "o000001": 4, "o000002": 1, "o000003": 1, "o000004": 1}
    # the fourth broadcast of the month was o000001's last one
    assert plan(ext).audience == 3


def test_cli_preview_goes_to_the_test_openids_only(app, fake_api, tmp_path):
    spec = tmp_path / "b.yaml"
    spec.write_text("name: x\naudience: {all: true}\ntext: 预览一下\n")
    runner = app.test_cli_runner()
    out = runner.invoke(args=["broadcast", "preview", str(spec), "--to", "o-marketer-1", "--to", "o-marketer-2"])
    assert out.exit_code == 0 and "preview sent to 2 of 2" in out.output, out.output
    calls = fake_api.calls_to("message/mass/preview")
    assert [c.body["touser"] for c in calls] == ["o-marketer-1", "o-marketer-2"]
    assert calls[0].body["text"]["content"] == "预览一下" and fake_api.mass_sends() == []
    fake_api.fail("message/mass/preview", errcode=40003)
    out = runner.invoke(args=["broadcast", "preview", str(spec), "--to", "o-bad"])
    assert out.exit_code == 1 and "refused: o-bad" in out.output


def test_tag_sync_tags_the_segment_on_wechat_and_here(ext, app, fake_api, tmp_path):
    seed(ext, 120)
    spec = tmp_path / "kol.yaml"
    spec.write_text("name: x\naudience: {language: zh-CN}\ntext: hi\n")
    out = app.test_cli_runner().invoke(args=["broadcast", "tag", str(spec), "--name", "winter_fans"])
    assert out.exit_code == 0 and "applied to 120 followers" in out.output, out.output
    (create,) = fake_api.calls_to("tags/create")
    assert create.body == {"tag": {"name": "winter_fans"}}
    tag_id = create.response["tag"]["id"]
    calls = fake_api.calls_to("tags/members/batchtagging")
    assert [len(c.body["openid_list"]) for c in calls] == [50, 50, 20]  # WeChat's 50 per call
    assert all(c.body["tagid"] == tag_id for c in calls)
    assert parse_segment({"tag": tag_id}).count(ext.db, NOW) == 120  # a tag send here selects the same people


def test_cli_openids_from_a_csv(ext, app, fake_api, tmp_path):
    seed(ext, 5)
    spec = tmp_path / "b.yaml"
    spec.write_text("name: x\naudience: {all: true}\ntext: hi\n")
    csv_file = tmp_path / "list.csv"
    csv_file.write_text("openid\no000001\no000003,extra column\n\no000003\no-not-following\n")
    runner = app.test_cli_runner()
    out = runner.invoke(args=["broadcast", "create", str(spec), "--openids-csv", str(csv_file), "--dry-run"])
    assert out.exit_code == 0 and "2 subscribed followers" in out.output and "openids" in out.output, out.output
    bad = tmp_path / "bad.csv"
    bad.write_text("openid\no000001\nnot an openid!\n")
    out = runner.invoke(args=["broadcast", "create", str(spec), "--openids-csv", str(bad)])
    assert out.exit_code != 0 and "bad.csv, line 3" in out.output


def test_send_at_a_time_is_scheduled_on_the_queue_and_a_new_time_replaces_the_old(ext, app, fake_api):
    from bot import jobs
    from bot.infra.clock import Clock

    seed(ext, 2)
    p = plan(ext)
    ext.services.clock = Clock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))
    runner = app.test_cli_runner()
    for at, says in [("2026-11-30T10:00", "2026-11-30 10:00 KST has passed; to send now, leave out the time"),
                     ("2027-06-01T10:00", "more than 90 days ahead"), ("tomorrow", "expected a time such as")]:
        out = runner.invoke(args=["broadcast", "send", str(p.broadcast_id), "--at", at])
        assert out.exit_code == 2 and says in out.output and "--at" in out.output, out.output
    out = runner.invoke(args=["broadcast", "send", str(p.broadcast_id), "--at", "2026-12-01T10:00", "--now"])
    assert out.exit_code == 2 and "not both" in out.output
    out = runner.invoke(args=["broadcast", "send", str(p.broadcast_id), "--at", "2026-12-01T10:00"])
    if ext.config.embedded_redis:
        assert out.exit_code != 0 and "no job scheduler" in out.output
        assert "scheduled" not in runner.invoke(args=["broadcast", "status", str(p.broadcast_id)]).output
        return
    assert out.exit_code == 0 and "scheduled for 2026-12-01 10:00 Asia/Seoul" in out.output, out.output
    from rq.registry import ScheduledJobRegistry

    registry = ScheduledJobRegistry(queue=ext.queue)
    (job_id,) = registry.get_job_ids()
    when = registry.get_scheduled_time(job_id)
    assert when == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)  # 10:00 in Seoul
    assert ext.queue.fetch_job(job_id).args == (p.broadcast_id, "2026-12-01T10:00:00+09:00")

    # the marketer moves it to 09:00 Beijing time (10:00 Seoul is 09:00 Beijing: an hour later, 11:00 Seoul)
    out = runner.invoke(args=["broadcast", "send", str(p.broadcast_id), "--at", "2026-12-01T10:00+08:00"])
    assert "scheduled for 2026-12-01 11:00 Asia/Seoul" in out.output, out.output
    status = runner.invoke(args=["broadcast", "status", str(p.broadcast_id)]).output
    assert "planned" in status and "scheduled for 2026-12-01 11:00 Asia/Seoul" in status
    assert f"{p.broadcast_id} scheduled" in " ".join(runner.invoke(args=["broadcast", "list"]).output.split())
    old, new = sorted(registry.get_job_ids(), key=registry.get_scheduled_time)
    with app.app_context():  # the worker reaches the first time: that job is stale and sends nothing
        assert jobs.send_broadcast(*ext.queue.fetch_job(old).args).startswith("skipped")
        assert fake_api.mass_sends() == []
        assert jobs.send_broadcast(*ext.queue.fetch_job(new).args).startswith("sent")
    assert len(fake_api.mass_sends()) == 1


def test_texts_per_language_go_to_the_right_followers(ext, fake_api):
    with ext.db.session() as s:
        s.execute(insert(Follower), [dict(openid=f"o-{lang}-{i}", subscribed=True, language=lang, tags=[],
                                          created_at=NOW, last_active_at=NOW)
                                     for lang in ("zh-CN", "en", "ko") for i in range(2)])
    texts = {"zh-CN": "首尔下雪啦", "en": "Snow in Seoul"}
    p = plan(ext, {"all": True}, {"text": texts, "audience": {"all": True}})
    assert (p.mode, p.audience, p.batches) == ("openids", 6, 2)  # not send-to-all: two messages
    run(ext, p.broadcast_id)
    sent = {c.body["text"]["content"]: sorted(c.body["touser"]) for c in fake_api.mass_sends()}
    # Korean speakers have no text of their own: they get the default Chinese one.
    assert sent == {"首尔下雪啦": ["o-ko-0", "o-ko-1", "o-zh-CN-0", "o-zh-CN-1"], "Snow in Seoul": ["o-en-0", "o-en-1"]}

    only_en = plan(ext, {"language": "en"}, {"text": texts, "audience": {"language": "en"}})
    assert [b.lang for b in batches_of(ext, only_en.broadcast_id)] == ["en"]
