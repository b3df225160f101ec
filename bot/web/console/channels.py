"""`/admin/channels`: what each channel brought in a period (`bot.followers.channels.report`) as a funnel per
channel (scans → follows → bookings, and paid revenue), the full table, and the same report as CSV (the columns
`flask --app wsgi channels report --csv` writes)."""
from __future__ import annotations

import io
from datetime import date, timedelta
from typing import Any

from flask import Response, request

from bot.followers import channels as attribution
from bot.web.console.charts import width
from bot.web.console.common import audit_read, bp, ext, refuse, render, today, words

DEFAULT_DAYS = 30


def period() -> tuple[date, date] | str:
    """`?from=&to=` (Seoul days, both included; default: the last 30 days), or why they cannot be used."""
    t = words()["channels"]
    last_day = today()
    try:
        last = date.fromisoformat(request.args["to"]) if request.args.get("to") else last_day
        first = (date.fromisoformat(request.args["from"]) if request.args.get("from")
                 else last - timedelta(days=DEFAULT_DAYS - 1))
    except ValueError:
        return t["bad_date"]
    if last < first:
        return t["bad_order"]
    if (last - first).days >= attribution.REPORT_MAX_DAYS:
        return t["too_long"].format(days=attribution.REPORT_MAX_DAYS)
    return first, last


def report(first: date, last: date) -> list[attribution.Line]:
    return attribution.report(ext().db, first, last)


def funnel(lines: list[Any], limit: int | None = None) -> list[dict[str, Any]]:
    """Per channel (busiest first): its stages as bars relative to its own scans, and its revenue relative to
    the channel that earned most."""
    busiest = sorted(lines, key=lambda line: (-line.scans, -line.follows, line.channel))
    top_revenue = max([line.revenue_krw for line in lines] + [0])
    out = []
    for line in busiest[:limit]:
        top = max(line.scans, line.follows, line.bookings, 1)
        out.append({"line": line, "stages": [(key, getattr(line, key), width(getattr(line, key), top),
                                              _share(getattr(line, key), line.scans))
                                             for key in ("scans", "follows", "bookings")],
                    "revenue_width": width(line.revenue_krw, top_revenue)})
    return out


def _share(value: int, of: int) -> str:
    return f"{round(value / of * 100)}%" if of else ""


@bp.get("/channels")
def channels() -> Response:
    found = period()
    if isinstance(found, str):
        return refuse(400, found)
    first, last = found
    lines = report(first, last)
    totals = {key: sum(getattr(line, key) for line in lines) for key in COLUMNS}
    return render("channels", first=first, last=last, lines=lines, funnel=funnel(lines), totals=totals,
                  columns=COLUMNS)


COLUMNS = attribution.CSV_COLUMNS


@bp.get("/channels.csv")
def channels_csv() -> Response:
    found = period()
    if isinstance(found, str):
        return refuse(400, found)
    first, last = found
    out = io.StringIO()
    attribution.write_csv(report(first, last), out)
    audit_read(export="channels", first=first.isoformat(), last=last.isoformat())
    response = Response(out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="channels-{first}-{last}.csv"'
    return response
