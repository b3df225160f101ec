"""The insights flush applies each batch of events exactly once (a crashed flush's batch too, a batch applied twice
adds nothing, a malformed event is skipped), and retention deletes old raw texts while the counts stay. Both
back-ends."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select, update

from bot.followers import handoff as requests
from bot.infra.clock import SEOUL, Clock, in_seoul
from bot.infra.db.models import (
    HandoffRequest,
    InboxReply,
    InsightDay,
    InsightFlush,
    UnansweredMessage,
    UnansweredQuestion,
)
from bot.insights import events, flush, report, retention

NOW = datetime(2026, 5, 1, 10, 0, tzinfo=SEOUL)


def _event(route: str = "attractions.place", text: str = "", at: datetime = NOW, who: str = "h1") -> str:
    body = {"t": int(at.timestamp()), "k": "text", "r": route, "i": "", "a": int(events.is_answered(route))}
    if text:
        body.update(x=text, l="zh-CN", u=who)
    return events.encode(body)


@pytest.fixture
def ext(app_factory):  # type: ignore[no-untyped-def]
    ext = app_factory().extensions["yjy"]
    ext.services.clock = Clock(NOW)
    return ext


def _counts(ext) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """(messages counted per day, unanswered questions' total, raw messages)."""
    with ext.db.session() as s:
        return (int(s.scalar(select(func.coalesce(func.sum(InsightDay.count), 0)))),
                int(s.scalar(select(func.coalesce(func.sum(UnansweredQuestion.count), 0)))),
                int(s.scalar(select(func.count()).select_from(UnansweredMessage))))


def _crash_after_taking(ext, batch: str) -> None:  # type: ignore[no-untyped-def]
    """What a flush that died right after taking the list leaves: the batch under its key, its id noted."""
    ext.redis.rename(ext.keys.insight_events(), ext.keys.insight_flushing(batch))
    ext.redis.sadd(ext.keys.insight_batches(), batch)


def _pending(ext) -> list[bytes]:  # type: ignore[no-untyped-def]
    return sorted(ext.redis.smembers(ext.keys.insight_batches()))


def test_a_batch_a_crashed_flush_left_is_applied_once_by_the_next(ext):
    ext.redis.rpush(ext.keys.insight_events(), _event(), _event("fallback.suggest", "能带无人机吗"))
    _crash_after_taking(ext, "crashed1")
    ext.redis.rpush(ext.keys.insight_events(), _event())  # the webhook goes on meanwhile

    done = flush.flush(ext)
    assert (done.batches, done.events, done.already, done.failed) == (2, 3, 0, [])
    assert _counts(ext) == (3, 1, 1)
    assert _pending(ext) == [] and not ext.redis.exists(ext.keys.insight_flushing("crashed1"))
    assert ext.redis.keys(f"{ext.keys.base}:insights:*") == []
    assert str(flush.flush(ext)) == "0 batch(es), 0 event(s) flushed" and _counts(ext) == (3, 1, 1)


def test_a_batch_applied_before_its_key_was_deleted_adds_nothing_again(ext):
    raw = [_event("fallback.suggest", "能带无人机吗", who="h1"), _event("fallback.suggest", "能带无人机吗？", who="h2")]
    assert flush.apply(ext.db, "b-twice", raw, now=NOW).new
    assert flush.apply(ext.db, "b-twice", raw, now=NOW) == flush.Applied(False)  # the same batch id: nothing
    assert _counts(ext) == (2, 2, 2)
    # A flush that committed and died before deleting the batch: the next one finds it applied and clears it.
    ext.redis.rpush(ext.keys.insight_events(), *raw)
    _crash_after_taking(ext, "b-twice")
    done = flush.flush(ext)
    assert (done.batches, done.already) == (0, 1) and _counts(ext) == (2, 2, 2) and _pending(ext) == []
    with ext.db.session() as s:
        [question] = s.scalars(select(UnansweredQuestion))
        assert (question.norm, question.count, question.sample) == ("能带无人机吗", 2, "能带无人机吗")
        assert s.scalar(select(InsightFlush.events).where(InsightFlush.id == "b-twice")) == 2


def test_later_batches_add_to_the_same_rows(ext):
    earlier, later = NOW - timedelta(hours=3), NOW - timedelta(hours=1)
    flush.apply(ext.db, "b1", [_event("fallback.suggest", "能带无人机吗", at=later), _event(at=later)], now=NOW)
    flush.apply(ext.db, "b2", [_event("fallback.suggest", "能带无人机吗!", at=earlier), _event(at=earlier)], now=NOW)
    with ext.db.session() as s:
        [question] = s.scalars(select(UnansweredQuestion))
        [answered] = s.scalars(select(InsightDay).where(InsightDay.answered.is_(True)))
    assert (question.count, question.sample) == (2, "能带无人机吗")  # the first sample is kept
    assert (in_seoul(question.first_seen), in_seoul(question.last_seen)) == (earlier, later)
    assert (answered.day, answered.count) == (NOW.date(), 2)


def test_a_malformed_event_is_skipped_and_logged_never_blocking_its_batch(ext, caplog):
    good = _event("fallback.suggest", "能带无人机吗")
    ext.redis.rpush(ext.keys.insight_events(), "not json", '{"t":"soon","k":"text"}', "[1]",
                    '{"t":1,"k":"text","r":"x","i":"","a":2}', good)
    with caplog.at_level(logging.WARNING, logger="bot.insights.flush"):
        done = flush.flush(ext)
    assert (done.batches, done.events, done.malformed) == (1, 1, 4)
    assert "4 malformed event(s) skipped in batch" in caplog.text and "not JSON" in caplog.text
    assert _counts(ext) == (1, 1, 1) and _pending(ext) == []


def test_a_batch_the_database_refuses_stays_in_redis_for_the_next_flush(ext, monkeypatch, caplog):
    ext.redis.rpush(ext.keys.insight_events(), _event(), _event())
    real = flush.apply

    def down(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("database down")

    monkeypatch.setattr(flush, "apply", down)
    done = flush.flush(ext)
    assert done.batches == 0 and len(done.failed) == 1 and "kept for the next flush" in caplog.text
    [batch] = _pending(ext)
    assert ext.redis.llen(ext.keys.insight_flushing(batch.decode())) == 2
    monkeypatch.setattr(flush, "apply", real)
    assert flush.flush(ext).events == 2 and _counts(ext)[0] == 2 and _pending(ext) == []


def test_reports_do_without_redis(ext, monkeypatch, caplog):
    import redis

    def unreachable(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise redis.ConnectionError("down")

    flush.apply(ext.db, "b1", [_event()], now=NOW)
    monkeypatch.setattr(ext.redis, "eval", unreachable)
    assert [f.messages for f in report.daily(ext, days=2)] == [0, 1]
    assert "pending events not flushed (Redis: ConnectionError)" in caplog.text


# --- retention ---------------------------------------------------------------------------------------------
def _handoff(ext, openid: str, text: str, *, closed_at: datetime | None) -> int:  # type: ignore[no-untyped-def]
    row = requests.record(ext.db, openid=openid, kind="handoff", text=text, recent=["我想租一辆自行车"], lang="zh-CN",
                          transferred=False, source=None, now=(closed_at or NOW) - timedelta(hours=1))
    if closed_at is not None:
        with ext.db.session() as s:
            s.execute(update(HandoffRequest).where(HandoffRequest.id == row.id)
                      .values(status="closed", closed_at=closed_at))
    return row.id


def test_retention_deletes_old_raw_texts_and_keeps_the_counts(ext):
    old, recent = NOW - timedelta(days=31), NOW - timedelta(days=29)
    flush.apply(ext.db, "old", [_event("fallback.suggest", "能带无人机吗", at=old), _event(at=old)], now=old)
    flush.apply(ext.db, "new", [_event("fallback.suggest", "能带无人机吗", at=recent)], now=recent)
    closed_old = _handoff(ext, "o-1", "电话13812345678 请回电", closed_at=old)
    closed_recent = _handoff(ext, "o-2", "请回电", closed_at=recent)
    open_old = _handoff(ext, "o-3", "还在等", closed_at=None)
    with ext.db.session() as s:
        s.execute(update(HandoffRequest).where(HandoffRequest.id == open_old).values(created_at=old))
        s.add_all([InboxReply(item=f"H{closed_old}", openid="o-1", actor="staff:mei", text="已为您退款 13812345678",
                              outcome="sent", at=old),
                   InboxReply(item=f"H{closed_recent}", openid="o-2", actor="staff:mei", text="稍后回电", outcome="sent",
                              at=recent)])

    done = retention.purge(ext)  # insights.keep_raw_days: 30
    assert (done.messages, done.handoffs, done.flushes, done.replies) == (1, 1, 1, 1)
    assert done.cutoff == NOW - timedelta(days=30)
    assert _counts(ext) == (3, 2, 1)  # per-day counts and the question's count stay; one raw text is gone
    with ext.db.session() as s:
        [kept] = s.scalars(select(UnansweredMessage))
        texts = {r.id: (r.status, r.text, r.recent, r.kind) for r in s.scalars(select(HandoffRequest))}
        assert list(s.scalars(select(InsightFlush.id))) == ["new"]
        replies = {r.item: (r.text, r.outcome, r.actor) for r in s.scalars(select(InboxReply))}
    assert in_seoul(kept.at) == recent
    assert texts[closed_old] == ("closed", "", [], "handoff")
    assert texts[closed_recent] == ("closed", "请回电", ["我想租一辆自行车"], "handoff")
    assert texts[open_old] == ("open", "还在等", ["我想租一辆自行车"], "handoff")
    assert replies == {f"H{closed_old}": ("", "sent", "staff:mei"), f"H{closed_recent}": ("稍后回电", "sent", "staff:mei")}
    assert (retention.purge(ext).messages, retention.purge(ext).handoffs) == (0, 0)  # nothing left to do

    assert retention.purge(ext, days=1).messages == 1
    with pytest.raises(ValueError, match="days"):
        retention.purge(ext, days=0)


def test_the_purge_command_is_audited_and_says_what_it_did(app_factory):
    app = app_factory()
    ext = app.extensions["yjy"]
    flush.apply(ext.db, "b", [_event("fallback.suggest", "能带无人机吗", at=datetime.now(SEOUL) - timedelta(days=3))],
                now=NOW)
    runner = app.test_cli_runner()
    kept = runner.invoke(args=["insights", "purge", "--by", "mei"])
    assert kept.exit_code == 0 and "0 raw message(s) deleted" in kept.output
    purged = runner.invoke(args=["insights", "purge", "--days", "2", "--by", "mei"])
    assert purged.exit_code == 0 and "1 raw message(s) deleted" in purged.output, purged.output
    from bot.infra.db.models import AdminAudit

    with ext.db.session() as s:
        audited = [(a.actor, a.path, a.status) for a in s.scalars(select(AdminAudit).order_by(AdminAudit.id))]
    assert audited == [("cli:mei", "insights purge", 0), ("cli:mei", "insights purge --days 2", 0)]
