"""`/admin/api/insights/…`: what travelers ask and what the bot missed, as JSON (`bot.insights.report`), on the
admin API's blueprint and behind its bearer tokens. Reads of unanswered questions (travelers' own words) are
audited like reads of orders."""
from __future__ import annotations

from typing import Any

from flask import Response, g, jsonify, request

from bot.insights import report
from bot.web.admin_api import app_ext, bp, error, seoul_time

MAX_LIMIT = 500


def _int(name: str, default: int, low: int, high: int) -> int | Response:
    raw = request.args.get(name, "")
    if raw == "":
        return default
    if not raw.isdigit() or not low <= int(raw) <= high:
        return error(400, f"expected {name} as a whole number from {low} to {high}", name)
    return int(raw)


@bp.get("/insights/unanswered")
def insights_unanswered() -> Response:
    """`?days=7&limit=50`: unanswered questions grouped, most asked first."""
    g.audit_read = True
    days = _int("days", 7, 1, report.MAX_DAYS)
    limit = _int("limit", 50, 1, MAX_LIMIT)
    if isinstance(days, Response):
        return days
    if isinstance(limit, Response):
        return limit
    groups = report.unanswered(app_ext(), days=days, limit=limit)
    g.audit_detail = {"days": days, "groups": len(groups)}
    return jsonify({"days": days, "groups": [_group(q) for q in groups]})


@bp.get("/insights/daily")
def insights_daily() -> Response:
    """`?days=14`: messages, answered and the share answered, per Seoul day, oldest first."""
    days = _int("days", 14, 1, report.MAX_DAYS)
    if isinstance(days, Response):
        return days
    figures = report.daily(app_ext(), days=days)
    return jsonify({"days": days, "daily": [{"day": f.day.isoformat(), "messages": f.messages,
                                             "answered": f.answered, "share": round(f.share, 4)}
                                            for f in figures]})


@bp.get("/insights/intents")
def insights_intents() -> Response:
    """`?days=7`: messages per intent, most frequent first, and per day."""
    days = _int("days", 7, 1, report.MAX_DAYS)
    if isinstance(days, Response):
        return days
    by_day = report.intents_by_day(app_ext(), days=days)
    return jsonify({"days": days,
                    "intents": [{"intent": intent, "messages": n} for intent, n in report.ranked(by_day)],
                    "by_day": {day.isoformat(): counts for day, counts in by_day.items()}})


def _group(q: report.QuestionGroup) -> dict[str, Any]:
    return {"title": q.title, "count": q.count, "travelers": q.travelers, "routes": q.routes,
            "variants": [{"text": text, "count": n} for text, n in q.variants],
            "first_seen": seoul_time(q.first_seen), "last_seen": seoul_time(q.last_seen)}
