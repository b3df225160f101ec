"""Planning a broadcast: its audience frozen into batches, each one WeChat mass-send call.

Send-by-openid takes 2 to 10,000 openids per call, so an audience is cut into batches of at most
10,000 and never leaves a batch of one. Every batch is stored with its own `clientmsgid` before
anything is sent, so a send that dies half way resumes with exactly the batches not yet sent.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator
from zoneinfo import ZoneInfo

from sqlalchemy import func, insert, select, update

from bot.broadcasts import news
from bot.broadcasts.errors import PlanError, SpecError
from bot.broadcasts.message import DEFAULT_LANG
from bot.broadcasts.segments import Segment, SegmentError, parse_segment
from bot.infra import yamlfile
from bot.infra.clock import SEOUL
from bot.infra.db import Database
from bot.infra.db.models import Broadcast, BroadcastBatch

MAX_PER_CALL = 10_000
_OPENID = re.compile(r"^[A-Za-z0-9_-]{6,64}$")
BEIJING = ZoneInfo("Asia/Shanghai")


def batches(openids: Iterable[str], size: int = MAX_PER_CALL) -> Iterator[list[str]]:
    """Chunks of at most `size` openids with none of length 1 (WeChat refuses a list of one).

    10,001 recipients become 10,000 + 1 -> 9,999 + 2. A single recipient cannot be sent to at all.
    """
    chunk: list[str] = []
    held: list[str] | None = None  # the previous full chunk, kept until we know the next is not a single
    for openid in openids:
        chunk.append(openid)
        if len(chunk) == size:
            if held is not None:
                yield held
            held, chunk = chunk, []
    if held is not None:
        if len(chunk) == 1:
            chunk.insert(0, held.pop())
        yield held
    if len(chunk) == 1:
        raise PlanError("send-by-openid needs at least 2 recipients; for one follower use a preview")
    if chunk:
        yield chunk


@dataclass(frozen=True)
class Plan:
    broadcast_id: int
    mode: str
    audience: int
    batches: int
    skipped_monthly_limit: int = 0


def spec_languages(spec: dict[str, Any]) -> list[str]:
    """The languages a broadcast has its message in: its texts', or a news broadcast's `languages`."""
    texts = spec.get("text")
    if isinstance(texts, dict):
        return list(texts)
    return list(spec.get("languages") or [DEFAULT_LANG])


def language_groups(segment: Segment, spec: dict[str, Any]) -> list[tuple[str, Segment]]:
    """(language, sub-segment) pairs that together make `segment`: one per text language, zh-CN taking
    every follower whose language has no text of its own."""
    langs = spec_languages(spec)
    if len(langs) == 1:
        return [(langs[0], segment)]
    others = tuple(lang for lang in langs if lang != DEFAULT_LANG)
    chosen = segment.language  # () means every language
    groups = [(lang, replace(segment, all=False, language=(lang,))) for lang in others
              if not chosen or lang in chosen]
    if not chosen or any(lang not in others for lang in chosen):
        groups.insert(0, (DEFAULT_LANG, replace(segment, all=False, not_languages=others)))
    return groups


def month_of(when: datetime) -> str:
    """The calendar month WeChat counts a broadcast in (Beijing time)."""
    return when.astimezone(BEIJING).strftime("%Y-%m")


def send_mode(segment: Segment, spec: dict[str, Any]) -> str:
    """all | tag | openids: texts per language go out as openid lists (send-to-all and tag sends carry one
    message)."""
    return "openids" if len(language_groups(segment, spec)) > 1 else segment.mode


def frozen_batches(db: Database, segment: Segment, spec: dict[str, Any], now: datetime,
                   month: str) -> Iterator[tuple[str, list[str], int]]:
    """(language, openids, size) of each batch a broadcast freezes, streamed: what `create` stores and `measure`
    counts. Followers who already got 4 broadcasts in `month` are left out of openid lists; send-to-all and tag
    sends are one batch (WeChat itself filters who reached the limit). PlanError for a single recipient."""
    if send_mode(segment, spec) == "openids":
        for lang, group in language_groups(segment, spec):
            for chunk in batches(group.openids_in(db, now, full_month=month)):
                yield lang, chunk, len(chunk)
    else:
        yield spec_languages(spec)[0], [], segment.count(db, now)


def _refuse_empty(total: int, skipped_monthly_limit: int) -> None:
    if total == 0:
        raise PlanError("the audience is empty: no subscribed follower matches"
                        + (" who can still receive a broadcast this month" if skipped_monthly_limit else ""))


@dataclass(frozen=True)
class Audience:
    """What `create` would freeze, counted by the same function, nothing stored (a dry run)."""

    mode: str
    total: int
    batches: int
    skipped_monthly_limit: int
    sample: list[str]


def measure(db: Database, segment: Segment, spec: dict[str, Any], now: datetime,
            scheduled_at: datetime | None = None, sample_size: int = 5) -> Audience:
    """The audience `create` would freeze now, or PlanError saying why create would refuse it."""
    mode, month = send_mode(segment, spec), month_of(scheduled_at or now)
    total, count, found = 0, 0, list[str]()
    for _lang, chunk, size in frozen_batches(db, segment, spec, now, month):
        total, count = total + size, count + 1
        found.extend(chunk[:max(0, sample_size - len(found))])
    skipped = segment.count(db, now) - total if mode == "openids" else 0
    _refuse_empty(total, skipped)
    return Audience(mode, total, count, skipped, found if mode == "openids" else sample(db, segment, now, sample_size))


def create(db: Database, name: str, spec: dict, segment: Segment, created_by: str, now: datetime,
           scheduled_at: datetime | None = None) -> Plan:
    """Store the broadcast and its batches (status planned). Nothing is sent here."""
    mode, month = send_mode(segment, spec), month_of(scheduled_at or now)
    with db.session() as s:
        broadcast = Broadcast(name=name, spec=spec, mode=mode, status="planned", audience=0, created_by=created_by,
                              created_at=now, scheduled_at=scheduled_at, month=month)
        s.add(broadcast)
        s.flush()
        bid = broadcast.id
        total, count = 0, 0
        rows: list[dict] = []
        for lang, chunk, size in frozen_batches(db, segment, spec, now, month):
            rows.append(dict(broadcast_id=bid, seq=count, clientmsgid=f"yjy-{bid}-{count}", openids=chunk,
                             size=size, status="pending", attempts=0, lang=lang))
            total, count = total + size, count + 1
            if len(rows) == 20:  # bounded memory: 200,000 openids per INSERT
                s.execute(insert(BroadcastBatch), rows)
                rows = []
        if rows:
            s.execute(insert(BroadcastBatch), rows)
        broadcast.skipped_monthly_limit = segment.count(db, now) - total if mode == "openids" else 0
        _refuse_empty(total, broadcast.skipped_monthly_limit)
        broadcast.audience = total
    return Plan(bid, mode, total, count, broadcast.skipped_monthly_limit or 0)


TO_SEND = ("pending", "failed")  # a failed batch (quota, permission, ...) is retried by the next send
DONE = ("sent", "skipped")  # skipped: the marketer gave up on a failed batch (`send --skip-failed`)


def pending(db: Database, broadcast_id: int) -> list[BroadcastBatch]:
    """Batches still to send, in order: what a resumed send picks up (failed ones again, same clientmsgid)."""
    with db.session() as s:
        return list(s.scalars(select(BroadcastBatch).where(BroadcastBatch.broadcast_id == broadcast_id,
                                                           BroadcastBatch.status.in_(TO_SEND))
                              .order_by(BroadcastBatch.seq)))


def unfinished(db: Database, broadcast_id: int) -> int:
    """Batches neither sent nor skipped: a broadcast is sent only when there are none."""
    with db.session() as s:
        return int(s.scalar(select(func.count()).where(BroadcastBatch.broadcast_id == broadcast_id,
                                                       BroadcastBatch.status.not_in(DONE))) or 0)


def skip_failed(db: Database, broadcast_id: int) -> tuple[int, int]:
    """Give up on the failed batches (they are never sent); (batches, followers) given up. LookupError if
    unknown, ValueError once sent or cancelled."""
    check_sendable(db, broadcast_id)
    b = BroadcastBatch
    with db.session() as s:
        found = s.execute(select(func.count(), func.coalesce(func.sum(b.size), 0))
                          .where(b.broadcast_id == broadcast_id, b.status == "failed")).one()
        s.execute(update(b).where(b.broadcast_id == broadcast_id, b.status == "failed").values(status="skipped"))
    return int(found[0]), int(found[1])


def not_reached(db: Database, broadcast_ids: list[int]) -> dict[int, int]:
    """Followers in skipped batches per broadcast: the ones a marketer gave up on."""
    b = BroadcastBatch
    with db.session() as s:
        found = {row[0]: row[1] for row in s.execute(select(b.broadcast_id, func.sum(b.size))
                                                     .where(b.broadcast_id.in_(broadcast_ids), b.status == "skipped")
                                                     .group_by(b.broadcast_id))}
    return {i: int(found.get(i) or 0) for i in broadcast_ids}


# --- broadcast files ----------------------------------------------------------------------------
SPEC_KEYS = {"name", "audience", "text", "media_id", "news", "languages"}
MESSAGE_KEYS = ("text", "news", "media_id")
_LANG = re.compile(r"^[a-z]{2}(-[A-Z]{2})?$")


def validate_spec(data: Any, content: Any = None) -> tuple[str, dict[str, Any], Segment]:
    """(name, spec, segment) from a broadcast file's mapping or an admin API body, or SpecError.

        name: 冬日首尔 12月
        audience: {channel: [kol_hallyu_01], active_days: 60}
        text: "首尔下雪啦 ❄️ ..."          # or one text per follower language: {zh-CN: .., en: ..}
        # or news: [{attraction: gyeongbokgung}, {campaign: winter_2026}]  (see bot.broadcast_news)
        # or media_id: <an mpnews article already uploaded>

    With `content`, the ids and thumbnails a news broadcast names are checked too.
    """
    if not isinstance(data, dict):
        raise SpecError("", "expected a mapping with name, audience and text, news or media_id")
    if unknown := set(data) - SPEC_KEYS:
        raise SpecError(sorted(unknown)[0], f"unknown field; expected {', '.join(sorted(SPEC_KEYS))}")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 120:
        raise SpecError("name", "expected a name of 1 to 120 characters")
    if sum(key in data for key in MESSAGE_KEYS) != 1:
        raise SpecError("", "give exactly one of text, news or media_id")
    text = data.get("text")
    if isinstance(text, dict):  # one text per follower language; zh-CN also goes to every other language
        if not isinstance(text.get(DEFAULT_LANG), str):
            raise SpecError(f"text.{DEFAULT_LANG}", "a text per language needs the zh-CN one (the default)")
        for lang, value in text.items():
            if not isinstance(value, str) or not value.strip():
                raise SpecError(f"text.{lang}", "expected the message text")
    elif "text" in data and (not isinstance(text, str) or not text.strip()):
        raise SpecError("text", "expected the message text, or a mapping of language -> text")
    if "media_id" in data and (not isinstance(data["media_id"], str) or not data["media_id"].strip()):
        raise SpecError("media_id", "expected the media_id of an uploaded article")
    spec = dict(data)
    if "news" in data:
        spec["news"] = _validate_news(data["news"], content)
    if "languages" in data:
        spec["languages"] = _validate_languages(data)
    try:
        segment = parse_segment(data.get("audience"))
    except SegmentError as exc:
        raise SpecError(exc.field, str(exc).split(": ", 1)[1]) from None
    if content is not None:
        _check_audience_ids(segment, content)
    return name.strip(), spec, segment


def _check_audience_ids(segment: Segment, content: Any) -> None:
    """A mistyped category or product id would quietly select nobody: name it instead."""
    for key, chosen, known, file in (("interests", segment.interests, content.categories.items, "categories.yaml"),
                                     ("booked", segment.booked, content.products.items, "products.yaml")):
        if unknown := [value for value in chosen if value not in known]:
            raise SpecError(f"audience.{key}", f"{unknown[0]!r} is not an id in content/{file}; "
                                               f"expected some of {', '.join(known)}")


def _validate_news(value: Any, content: Any) -> list[dict[str, str]]:
    items = [value] if isinstance(value, dict) else value
    if not isinstance(items, list) or not 1 <= len(items) <= news.MAX_ARTICLES:
        raise SpecError("news", f"expected 1 to {news.MAX_ARTICLES} articles, e.g. [{{attraction: gyeongbokgung}}]")
    for i, item in enumerate(items):
        field = f"news.{i}" if isinstance(value, list) else "news"
        if not isinstance(item, dict):
            raise SpecError(field, f"expected a mapping with one of {', '.join(news.KINDS)}")
        kinds = [k for k in news.KINDS if k in item]
        if len(kinds) != 1:
            raise SpecError(field, f"expected exactly one of {', '.join(news.KINDS)}")
        if unknown := set(item) - {kinds[0], "thumb"}:
            raise SpecError(f"{field}.{sorted(unknown)[0]}", f"unknown field; expected {kinds[0]} and thumb")
        if not isinstance(item[kinds[0]], str) or not item[kinds[0]].strip():
            raise SpecError(f"{field}.{kinds[0]}", f"expected the id of a {kinds[0]} in content/")
        if "thumb" in item and not (isinstance(item["thumb"], str) and news.IMAGE_NAME.match(item["thumb"])):
            raise SpecError(f"{field}.thumb", "expected the file name of a JPEG in content/images/, e.g. winter.jpg")
    items = [{k: str(v).strip() for k, v in item.items()} for item in items]
    if content is not None and (problem := news.check(items, content)):
        i, message = problem
        raise SpecError(f"news.{i}" if isinstance(value, list) else "news", message)
    return items


def _validate_languages(data: dict[str, Any]) -> list[str]:
    langs = data["languages"]
    if "news" not in data:
        raise SpecError("languages", "only for news; a text names its languages itself: text: {zh-CN: .., en: ..}")
    if not isinstance(langs, list) or not langs or not all(isinstance(v, str) and _LANG.match(v) for v in langs):
        raise SpecError("languages", "expected a list of language codes, e.g. [zh-CN, en]")
    if len(langs) > 1 and DEFAULT_LANG not in langs:
        raise SpecError("languages", "several languages need zh-CN among them (followers of other languages get it)")
    return list(dict.fromkeys(langs))


def load_spec(path: Path, content: Any = None) -> tuple[str, dict[str, Any], Segment]:
    """`validate_spec` of a YAML file; SourceError naming the file, line and field."""
    doc = yamlfile.load(path)
    try:
        return validate_spec(doc.data, content)
    except SpecError as exc:
        raise doc.error(exc.field, exc.message) from None


def read_openids_csv(path: Path) -> list[str]:
    """Openids from the first column of a CSV (a header row "openid" is skipped); SourceError on a bad row."""
    import csv

    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as exc:
        raise yamlfile.SourceError(path, None, f"cannot read: {exc}") from None
    openids: list[str] = []
    for line, row in enumerate(rows, start=1):
        value = row[0].strip() if row else ""
        if not value or (line == 1 and value.lower() == "openid"):
            continue
        if not _OPENID.match(value):
            raise yamlfile.SourceError(path, line, f"{value[:40]!r} is not an openid")
        openids.append(value)
    if not openids:
        raise yamlfile.SourceError(path, None, "no openids in the first column")
    return list(dict.fromkeys(openids))  # a list pasted twice is still one audience


# --- operations the broadcast service builds on (bot.broadcasts.service) ------------------------
def sample(db: Database, segment: Segment, now: datetime, size: int = 5) -> list[str]:
    """The first few openids of the audience, for a dry run."""
    return [openid for openid, _ in zip(segment.openids_in(db, now), range(size))]


MAX_SCHEDULE_AHEAD = timedelta(days=90)


@dataclass(frozen=True)
class Results:
    """What a broadcast reached, summed over its batches; WeChat's counts come with MASSSENDJOBFINISH."""

    batches: int
    batches_sent: int
    batches_reported: int  # batches whose MASSSENDJOBFINISH arrived
    total: int
    delivered: int
    failed: int
    filtered_out: int  # dropped by WeChat (refused messages, 4 a month): TotalCount - FilterCount

    def as_dict(self) -> dict[str, int]:
        return dict(vars(self))


def results(db: Database, broadcast_ids: list[int]) -> dict[int, Results]:
    """Results per broadcast, in one query."""
    b = BroadcastBatch
    stmt = (select(b.broadcast_id, func.count(), func.count().filter(b.status == "sent"),
                   func.count(b.total_count), func.coalesce(func.sum(b.total_count), 0),
                   func.coalesce(func.sum(b.sent_count), 0), func.coalesce(func.sum(b.error_count), 0),
                   func.coalesce(func.sum(b.total_count - b.filter_count), 0))
            .where(b.broadcast_id.in_(broadcast_ids)).group_by(b.broadcast_id))
    with db.session() as s:
        found = {row[0]: Results(*(int(v or 0) for v in row[1:])) for row in s.execute(stmt)}
    return {i: found.get(i, Results(0, 0, 0, 0, 0, 0, 0)) for i in broadcast_ids}


def check_sendable(db: Database, broadcast_id: int) -> None:
    """LookupError for an unknown broadcast, ValueError for one already sent or cancelled."""
    with db.session() as s:
        broadcast = s.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        if broadcast.status in ("sent", "cancelled"):
            raise ValueError(f"broadcast {broadcast_id} is {broadcast.status}: nothing to send")


def parse_send_time(value: str, now: datetime) -> datetime:
    """`2026-12-01T10:00` (Asia/Seoul unless it carries an offset) as an aware time, or ValueError saying
    why: a time already past would send at once, which is never what a schedule means."""
    try:
        when = datetime.fromisoformat(value.strip())
    except (AttributeError, ValueError):
        raise ValueError(f"expected a time such as 2026-12-01T10:00 (Asia/Seoul), got {value!r}") from None
    when = when if when.tzinfo else when.replace(tzinfo=SEOUL)
    if when < now - timedelta(minutes=1):
        raise ValueError(f"{when:%Y-%m-%d %H:%M %Z} has passed; to send now, leave out the time")
    if when > now + MAX_SCHEDULE_AHEAD:
        raise ValueError(f"{when:%Y-%m-%d %H:%M %Z} is more than {MAX_SCHEDULE_AHEAD.days} days ahead")
    return when


def schedule(db: Database, broadcast_id: int, when: datetime | None) -> datetime | None:
    """Keep the send time with the broadcast (None: now), as Seoul time; the time kept.

    The job that sends it carries the time too: scheduling again moves the send, because a job whose time
    is no longer the broadcast's does nothing (`is_current`).
    """
    when = when.astimezone(SEOUL) if when is not None else None  # SQLite keeps only the wall time: Seoul's
    with db.session() as s:
        broadcast = s.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        broadcast.scheduled_at = when
    return when


def is_current(db: Database, broadcast_id: int, scheduled_for: datetime) -> bool:
    """Whether `scheduled_for` is still the broadcast's send time (not moved by a later `send`, nor sent)."""
    with db.session() as s:
        broadcast = s.get(Broadcast, broadcast_id)
        current = broadcast.scheduled_at if broadcast else None
    return current is not None and _as_utc(current) == _as_utc(scheduled_for)


def _as_utc(when: datetime) -> datetime:
    return (when if when.tzinfo else when.replace(tzinfo=SEOUL)).astimezone(UTC)  # SQLite: Seoul wall time


def cancel(db: Database, broadcast_id: int) -> None:
    """Batches not yet sent never go out. LookupError if unknown, ValueError once it was sent."""
    with db.session() as s:
        broadcast = s.get(Broadcast, broadcast_id)
        if broadcast is None:
            raise LookupError(f"no broadcast {broadcast_id}")
        if broadcast.status == "sent":
            raise ValueError(f"broadcast {broadcast_id} was already sent")
        broadcast.status = "cancelled"
