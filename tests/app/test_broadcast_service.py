"""The broadcast service as every entry point uses it: draft → dry run → create → status → send / cancel,
previews and renders, on both back-ends, against the fake WeChat API."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, text

from bot.broadcasts.service import BroadcastService, MessageError, NoScheduler, SpecError, broadcast_service
from bot.infra.db.models import Follower
from bot.infra.queue import BROADCAST_JOB

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
TEXT = {"name": "冬日首尔", "audience": {"language": "zh-CN"}, "text": "首尔下雪啦"}
NEWS = {"name": "景福宫", "audience": {"all": True}, "news": [{"attraction": "gyeongbokgung"}],
        "languages": ["zh-CN", "en"]}


@pytest.fixture
def service(app) -> BroadcastService:  # type: ignore[no-untyped-def]
    ext = app.extensions["yjy"]
    with ext.db.session() as s:
        for table in ("broadcast_batches", "broadcasts", "followers", "mass_receipts", "wechat_media"):
            s.execute(text(f"DELETE FROM {table}"))
        s.execute(insert(Follower), [dict(openid=f"o{i:06d}", subscribed=True, language="zh-CN", tags=[],
                                          created_at=NOW, last_active_at=NOW) for i in range(3)])
    return broadcast_service(ext)


def test_create_status_cancel(service, fake_api):
    draft = service.validate(dict(TEXT))
    dry = service.dry_run(draft)
    assert (dry.name, dry.audience, dry.mode, dry.sample) == ("冬日首尔", 3, "openids", ["o000000", "o000001", "o000002"])
    assert service.newest() == []  # a dry run stores nothing

    plan = service.create(draft, created_by="mei")
    status = service.status(plan.broadcast_id)
    b = status.broadcast
    assert (b.id, b.status, b.shown_status, b.audience, b.created_by) == (plan.broadcast_id, "planned", "planned", 3,
                                                                           "mei")
    assert [(x.seq, x.size, x.status, x.attempts, x.filtered_out) for x in status.batches] == [(0, 3, "pending", 0,
                                                                                               None)]
    assert b.results.batches == 1 and b.results.batches_sent == 0
    assert service.check_sendable(plan.broadcast_id) == 1

    service.cancel(plan.broadcast_id)
    assert service.status(plan.broadcast_id).broadcast.status == "cancelled"
    with pytest.raises(ValueError, match="is cancelled: nothing to send"):
        service.queue_send(plan.broadcast_id)
    with pytest.raises(LookupError, match="no broadcast 999999"):
        service.status(999999)
    assert [s.id for s in service.newest()] == [plan.broadcast_id]
    assert fake_api.calls == []  # planning and following never call WeChat


def test_send_now_reports_each_batch_and_the_results(service, fake_api):
    plan = service.create(service.validate(dict(TEXT)), created_by="mei")
    done: list[int] = []
    report = service.send_now(plan.broadcast_id, progress=done.append)
    assert (report.status, report.sent, done) == ("sent", [0], [0])
    (call,) = fake_api.mass_sends()
    assert call.body["clientmsgid"] == f"yjy-{plan.broadcast_id}-0" and call.body["text"]["content"] == "首尔下雪啦"
    summary = service.newest(1)[0]
    assert (summary.status, summary.results.batches_sent) == ("sent", 1)
    with pytest.raises(ValueError, match="was already sent"):
        service.cancel(plan.broadcast_id)


def test_queue_send_enqueues_the_job_by_its_path(app, service, fake_api):
    plan = service.create(service.validate(dict(TEXT)), created_by="mei")
    ext = app.extensions["yjy"]
    with app.app_context():  # the embedded runner runs the job at once, in this thread
        assert service.queue_send(plan.broadcast_id) is None
    if ext.config.embedded_redis:
        assert service.status(plan.broadcast_id).broadcast.status == "sent"
        with pytest.raises(NoScheduler):
            service.queue_send(service.create(service.validate(dict(TEXT)), "mei").broadcast_id,
                               datetime.now(UTC) + timedelta(hours=1))
        return
    (job,) = ext.queue.get_jobs()
    assert job.func_name == BROADCAST_JOB == "bot.jobs.send_broadcast" and job.args == (plan.broadcast_id,)
    from bot.infra.queue import BurstWorker

    with app.app_context():
        BurstWorker([ext.queue], connection=ext.redis).work(burst=True)
    assert service.status(plan.broadcast_id).broadcast.status == "sent" and len(fake_api.mass_sends()) == 1


def test_a_scheduled_job_whose_time_was_replaced_sends_nothing(service, fake_api):
    plan = service.create(service.validate(dict(TEXT)), created_by="mei")
    assert service.send_scheduled(plan.broadcast_id, "2026-12-01T10:00:00+09:00") is None  # never scheduled then
    assert fake_api.mass_sends() == []


def test_render_uploads_nothing_and_preview_uploads_once(service, fake_api):
    draft = service.validate(dict(NEWS))
    shown = service.render(draft.spec)
    assert [(r.lang, r.kind) for r in shown] == [("zh-CN", "news"), ("en", "news")]
    assert shown[0].articles[0].title.startswith("景福宫") and shown[1].articles[0].title == "Gyeongbokgung Palace"
    assert shown[0].articles[0].thumb == "default.jpg"
    assert fake_api.calls == []

    assert service.preview(draft.spec, ["o-marketer"]) == []
    assert [c.body["touser"] for c in fake_api.calls_to("message/mass/preview")] == ["o-marketer"] * 2  # 2 languages
    assert len(fake_api.calls_to("material/add_material")) == 1
    fake_api.fail("media/uploadnews", status=502)  # other articles: not in the day's media_id cache
    other = service.validate({**NEWS, "news": [{"product": "nanta_show"}]})
    with pytest.raises(MessageError, match="could not compose the message"):
        service.preview(other.spec, ["o-marketer"])


def test_drafts_from_yaml_name_the_line(service):
    draft = service.load_yaml("name: x\naudience: {all: true}\ntext: hi\n")
    assert (draft.name, draft.segment.mode, service.audience_size(draft)) == ("x", "all", 3)
    from bot.infra.yamlfile import SourceError

    with pytest.raises(SourceError) as info:
        service.load_yaml("name: x\naudience: {all: true}\ntext: hi\ncolour: red\n")
    assert info.value.line == 4
    with pytest.raises(SpecError) as spec_info:
        service.validate({"name": "x", "audience": {"all": True}})
    assert "exactly one of text, news or media_id" in spec_info.value.message
