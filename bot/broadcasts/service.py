"""Broadcasts as operators run them: the one service behind the `broadcast` commands, the admin API, the RQ
job and the simulator's preview. It owns the database sessions, the WeChat gateway and the news composer;
the entry points parse their input, call one method and present the typed result.

    service = broadcast_service(current_app.extensions["yjy"])
    draft = service.load_file(Path("winter.yaml"))          # or service.validate(json_body)
    plan = service.create(draft, created_by="mei")
    service.queue_send(plan.broadcast_id)                    # or send_now(id, progress=...)
    service.status(plan.broadcast_id).broadcast.results.delivered

Errors are the domain's: SourceError / SpecError (a bad file or body), PlanError (an audience that cannot be
sent to), LookupError (no such broadcast), ValueError (sent or cancelled; a bad time), NoScheduler,
MessageError (the message could not be composed or uploaded).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sqlalchemy import select
from wechatpy.exceptions import WeChatClientException

from bot.broadcasts import planning, sending, tags
from bot.broadcasts.errors import MessageError, NoScheduler, PlanError, SpecError
from bot.broadcasts.news import NewsComposer, thumb_path
from bot.broadcasts.planning import Plan, Results
from bot.broadcasts.segments import Segment
from bot.broadcasts.sending import SendReport
from bot.infra import queue, yamlfile
from bot.infra.db.models import Broadcast, BroadcastBatch

if TYPE_CHECKING:
    from bot.services import Services


__all__ = ["BroadcastService", "Draft", "DryRun", "Summary", "BatchStatus", "Status", "Article", "Rendered",
           "MessageError", "NoScheduler", "PlanError", "SpecError", "Plan", "Results", "SendReport",
           "broadcast_service"]


@dataclass(frozen=True)
class Draft:
    """A validated broadcast file or API body, not stored yet."""

    name: str
    spec: dict[str, Any]
    segment: Segment


@dataclass(frozen=True)
class DryRun:
    name: str
    audience: int  # the recipients create would freeze now (the monthly limit applied, as create does)
    mode: str  # how it would be sent: all | tag | openids
    sample: list[str]
    batches: int = 0
    skipped_monthly_limit: int = 0  # followers left out: they already got 4 broadcasts this month


@dataclass(frozen=True)
class Summary:
    """One broadcast as listed, with what WeChat reported of it."""

    id: int
    name: str
    status: str  # planned | sending | sent | stopped | cancelled
    mode: str
    audience: int
    skipped_monthly_limit: int
    created_by: str
    created_at: datetime
    error: str | None
    scheduled_at: datetime | None
    results: Results
    not_reached: int = 0  # followers of the batches the marketer gave up on (`send --skip-failed`)

    @property
    def shown_status(self) -> str:
        """The status as a marketer reads it: a planned broadcast with a send time is "scheduled"."""
        return "scheduled" if self.status == "planned" and self.scheduled_at else self.status


@dataclass(frozen=True)
class BatchStatus:
    """One batch: its send, and WeChat's counts once MASSSENDJOBFINISH arrived (None until then)."""

    seq: int
    size: int
    status: str
    attempts: int
    msg_id: str | None
    error: str | None
    total: int | None
    sent: int | None
    errors: int | None
    filter_count: int | None

    @property
    def filtered_out(self) -> int | None:
        """WeChat's FilterCount is what is left after its filters; what was dropped is the rest."""
        if self.total is None or self.filter_count is None:
            return None
        return self.total - self.filter_count


@dataclass(frozen=True)
class Status:
    broadcast: Summary
    batches: list[BatchStatus]
    spec: dict[str, Any] = field(default_factory=dict)  # the broadcast file as planned: what goes out


@dataclass(frozen=True)
class Article:
    title: str
    description: str
    url: str
    content: str
    thumb: str  # the file name in content/images/


@dataclass(frozen=True)
class Rendered:
    """What followers of one language would see; nothing uploaded."""

    lang: str
    kind: str  # news | text | media
    text: str = ""
    articles: tuple[Article, ...] = ()


class BroadcastService:
    """Operators' broadcast operations over one app's services.

    Reads the services' parts when a method runs (the clock and database a test set are the ones used) and
    builds only what the operation needs: `broadcast list` opens the database, never WeChat.
    """

    def __init__(self, services: Services) -> None:
        self.s = services

    @cached_property
    def composer(self) -> NewsComposer:
        s = self.s
        return NewsComposer(s.db, s.wechat, s.redis, s.keys, s.content, s.cards, s.config.public_base_url)

    # --- drafts ------------------------------------------------------------------------------
    def load_file(self, path: Path, openids_csv: str | Path | None = None) -> Draft:
        """A broadcast file, its audience limited to a CSV's openids if given; SourceError naming file and line."""
        name, spec, segment = planning.load_spec(path, self.s.content)
        if openids_csv:
            listed = planning.read_openids_csv(Path(openids_csv))
            segment = replace(segment, all=False, openids=tuple(listed))
            spec = {**spec, "audience": {**{k: v for k, v in spec["audience"].items() if k != "all"},
                                         "openids_csv": str(openids_csv), "openids_count": len(listed)}}
        return Draft(name, spec, segment)

    def load_yaml(self, source: str, name: str = "broadcast.yaml") -> Draft:
        """A broadcast file's text (pasted in the simulator); SourceError naming the line."""
        doc = yamlfile.loads(source, name)
        try:
            return Draft(*planning.validate_spec(doc.data, self.s.content))
        except SpecError as exc:
            raise doc.error(exc.field, exc.message) from None

    def validate(self, body: Any) -> Draft:
        """An admin API body; SpecError naming the field."""
        return Draft(*planning.validate_spec(body, self.s.content))

    # --- planning ------------------------------------------------------------------------------
    def audience_size(self, draft: Draft) -> int:
        return draft.segment.count(self.s.db, self.s.clock.now())

    def dry_run(self, draft: Draft) -> DryRun:
        """What `create` would freeze now (counted by the same function), and its first openids; nothing stored.
        PlanError exactly when create would refuse it."""
        found = planning.measure(self.s.db, draft.segment, draft.spec, self.s.clock.now())
        return DryRun(draft.name, found.total, found.mode, found.sample, found.batches, found.skipped_monthly_limit)

    def create(self, draft: Draft, created_by: str) -> Plan:
        """Freeze the audience into batches (PlanError when it cannot be sent to)."""
        return planning.create(self.s.db, draft.name, draft.spec, draft.segment, created_by, self.s.clock.now())

    def render(self, spec: dict[str, Any]) -> list[Rendered]:
        """What followers would see, per language, from content only: nothing uploaded, nothing sent."""
        shown = []
        for lang in planning.spec_languages(spec):
            if "news" in spec:
                articles = []
                for item in spec["news"]:
                    a = self.composer.article(item, lang)
                    articles.append(Article(a["title"], a["digest"], a["content_source_url"], a["content"],
                                            thumb_path(self.s.content.dir, item).name))
                shown.append(Rendered(lang, "news", articles=tuple(articles)))
            elif "text" in spec:
                text = spec["text"][lang] if isinstance(spec["text"], dict) else spec["text"]
                shown.append(Rendered(lang, "text", text=text))
            else:
                shown.append(Rendered(lang, "media", text=f"media_id {spec['media_id']}"))
        return shown

    # --- sending -------------------------------------------------------------------------------
    def preview(self, spec: dict[str, Any], openids: list[str]) -> list[str]:
        """Send the message to test openids through WeChat's preview API; the openids WeChat refused."""
        try:
            return sending.preview(self.s.wechat, spec, openids, compose=self.composer.payload)
        except (WeChatClientException, ValueError) as exc:
            raise MessageError(f"could not compose the message: {exc}") from exc

    def parse_time(self, value: str) -> datetime:
        """A send time (Asia/Seoul unless it has an offset); ValueError saying why it cannot be used."""
        return planning.parse_send_time(value, self.s.clock.now())

    def check_sendable(self, broadcast_id: int) -> int:
        """The batches still to send; LookupError if unknown, ValueError once sent or cancelled."""
        planning.check_sendable(self.s.db, broadcast_id)
        return len(planning.pending(self.s.db, broadcast_id))

    def skip_failed(self, broadcast_id: int) -> tuple[int, int]:
        """Give up on the batches WeChat refused (never sent; the broadcast can then be sent without them);
        (batches, followers) given up. LookupError if unknown, ValueError once sent or cancelled."""
        return planning.skip_failed(self.s.db, broadcast_id)

    def queue_send(self, broadcast_id: int, when: datetime | None = None) -> datetime | None:
        """Put the send on the RQ queue, now or at `when` (Seoul time kept with the broadcast, returned).

        Scheduling again moves the send: the earlier job finds its time replaced and does nothing.
        """
        planning.check_sendable(self.s.db, broadcast_id)
        if when is not None and self.s.config.embedded_redis:
            raise NoScheduler("the embedded runner has no job scheduler")
        when = planning.schedule(self.s.db, broadcast_id, when)
        queue.enqueue_broadcast(self.s.queue, broadcast_id, when)
        return when

    def send_now(self, broadcast_id: int, progress: Callable[[int], None] | None = None, *,
                 sleep: Callable[[float], None] = time.sleep) -> SendReport:
        """Send (or resume) here, batch by batch; `progress(seq)` after each batch WeChat took."""
        return sending.send(self.s.db, self.s.wechat, self.s.redis, self.s.keys, broadcast_id, sleep=sleep,
                            progress=(lambda batch: progress(batch.seq)) if progress else None,
                            compose=self.composer.payload)

    def send_scheduled(self, broadcast_id: int, scheduled_for: str | None = None) -> SendReport | None:
        """What the RQ job runs: send now, unless the job's time is no longer the broadcast's (None then)."""
        if scheduled_for is not None and not planning.is_current(self.s.db, broadcast_id,
                                                                 datetime.fromisoformat(scheduled_for)):
            return None
        return self.send_now(broadcast_id)

    def cancel(self, broadcast_id: int) -> None:
        """Batches not yet sent never go out; LookupError if unknown, ValueError once sent."""
        planning.cancel(self.s.db, broadcast_id)

    # --- following -----------------------------------------------------------------------------
    def newest(self, limit: int = 20) -> list[Summary]:
        """The newest broadcasts first, with their results."""
        with self.s.db.session() as s:
            rows = list(s.scalars(select(Broadcast).order_by(Broadcast.id.desc()).limit(max(1, limit))))
        ids = [b.id for b in rows]
        found, lost = planning.results(self.s.db, ids), planning.not_reached(self.s.db, ids)
        return [_summary(b, found[b.id], lost[b.id]) for b in rows]

    def status(self, broadcast_id: int) -> Status:
        """The broadcast and its batches; LookupError if unknown."""
        with self.s.db.session() as s:
            b = s.get(Broadcast, broadcast_id)
            if b is None:
                raise LookupError(f"no broadcast {broadcast_id}")
            batches = [BatchStatus(x.seq, x.size, x.status, x.attempts, x.msg_id, x.error, x.total_count,
                                   x.sent_count, x.error_count, x.filter_count)
                       for x in s.scalars(select(BroadcastBatch).where(BroadcastBatch.broadcast_id == broadcast_id)
                                          .order_by(BroadcastBatch.seq))]
        return Status(_summary(b, planning.results(self.s.db, [b.id])[b.id],
                               planning.not_reached(self.s.db, [b.id])[b.id]), batches, dict(b.spec or {}))

    def tag(self, draft: Draft, name: str, progress: Callable[[int], None] | None = None) -> tuple[int, int]:
        """Tag the draft's audience on WeChat and here; (tag id, followers tagged). `progress(n)` per call."""
        return tags.sync(self.s.db, self.s.wechat, draft.segment, name, self.s.clock.now(), progress=progress)


def _summary(b: Broadcast, results: Results, not_reached: int = 0) -> Summary:
    return Summary(b.id, b.name, b.status, b.mode, b.audience, b.skipped_monthly_limit, b.created_by,
                   b.created_at, b.error, b.scheduled_at, results, not_reached)


def broadcast_service(ext: Any) -> BroadcastService:
    """The service over an app's services: `current_app.extensions["yjy"]` or its `Services`."""
    return BroadcastService(getattr(ext, "services", ext))
