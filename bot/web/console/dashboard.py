"""`/admin/`: the numbers a marketer reads at a glance: messages and the answered share per day (14 days),
the channel funnel (30 days), the latest broadcasts' results, the inbox by status, what travelers asked most
this week (intents, per day) and the questions the bot could not answer most often. `/admin/unanswered`: all
of those questions, grouped, for a period."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Response, request

from bot.web.console import charts
from bot.web.console.channels import funnel, report
from bot.web.console.common import bp, ext, refuse, render, today, words

DAILY_DAYS = 14
FUNNEL_DAYS = 30
INTENT_DAYS, TOP_INTENTS = 7, 8
PERIODS = (1, 7, 14, 30)


def _insights() -> Any:
    from bot.insights import report as insights  # loads on first use, like the other services

    return insights


def _inbox() -> Any:
    from bot.inbox import inbox

    return inbox(ext())


@bp.get("/")
def dashboard() -> Response:
    e, t = ext(), words()["dashboard"]
    insights = _insights()
    days = insights.daily(e, days=DAILY_DAYS)
    chart = charts.daily_svg(days, title=t["daily_title"].format(days=DAILY_DAYS), messages_label=t["messages"],
                             answered_label=t["answered"])
    last = today()
    lines = report(last - timedelta(days=FUNNEL_DAYS - 1), last)
    from bot.broadcasts.service import broadcast_service

    recent = broadcast_service(e).newest(5)
    counts = _inbox().counts()
    by_day = insights.intents_by_day(e, days=INTENT_DAYS)
    total = sum(d.messages for d in days)
    answered = sum(d.answered for d in days)
    return render("dashboard", days=days, chart=chart, total=total, answered=answered,
                  share=charts.percent(answered / total) if total else "–", funnel=funnel(lines, limit=8),
                  channel_count=len(lines), recent=recent, counts=counts,
                  questions=insights.unanswered(e, days=7, limit=5), daily_days=DAILY_DAYS, funnel_days=FUNNEL_DAYS,
                  bar=charts.width, intents=insights.ranked(by_day)[:TOP_INTENTS], intent_days=by_day,
                  intent_period=INTENT_DAYS)


@bp.get("/unanswered")
def unanswered() -> Response:
    raw = request.args.get("days", "7")
    if not raw.isdigit() or int(raw) not in PERIODS:
        return refuse(400, words()["unanswered"]["bad_days"].format(days=", ".join(map(str, PERIODS))))
    days = int(raw)
    groups = _insights().unanswered(ext(), days=days, limit=100)
    return render("unanswered", groups=groups, days=days, periods=PERIODS)
