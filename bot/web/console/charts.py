"""Charts drawn on the server as SVG (no script, no CDN): readable without hovering, on a phone too.

The daily chart keeps its numbers in the picture: each day's messages above its bar, the answered share
under the date, the answered part of the bar shaded darker. Its viewBox is narrow (420 units) and its text
large for it (12-13 units), so on a 390 px phone, where it shrinks to about three quarters, the numbers stay
readable; wider screens cap it in CSS. Dates are the day of the month, with the month on the first bar and
on the first of a month.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from markupsafe import Markup, escape

if TYPE_CHECKING:
    from bot.insights.report import DayFigures

WIDTH, HEIGHT = 420, 216
TOP, BASE = 26, 174  # the tallest bar's top and the bars' base line
MESSAGES, ANSWERED = "#b7e4c7", "#07a35a"  # light: all messages; dark: the answered part


def compact(n: int) -> str:
    """1234 -> 1.2k, 12345 -> 12k: fits above a bar."""
    if n < 1000:
        return str(n)
    if n < 10_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    return f"{round(n / 1000)}k"


def percent(share: float) -> str:
    return f"{round(share * 100)}%"


def daily_svg(days: list[DayFigures], *, title: str, messages_label: str, answered_label: str) -> Markup:
    """Bars of messages per day, the answered part shaded, counts above and shares below each bar."""
    n = max(len(days), 1)
    step = (WIDTH - 8) / n
    bar = step * 0.72
    top = max([d.messages for d in days] + [1])
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'class="chart" aria-label="{escape(title)}"><title>{escape(title)}</title>',
             f'<line x1="4" y1="{BASE}" x2="{WIDTH - 4}" y2="{BASE}" stroke="#ccc" stroke-width="1"/>']
    for i, d in enumerate(days):
        x = 4 + i * step + (step - bar) / 2
        mid = x + bar / 2
        h = (BASE - TOP) * d.messages / top
        a = (BASE - TOP) * min(d.answered, d.messages) / top
        tip = f"{d.day.isoformat()}: {messages_label} {d.messages}, {answered_label} {d.answered}"
        parts.append(f'<g><title>{escape(tip)}</title>')
        if d.messages:
            parts.append(f'<rect x="{x:.1f}" y="{BASE - h:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                         f'fill="{MESSAGES}"/>')
            parts.append(f'<rect x="{x:.1f}" y="{BASE - a:.1f}" width="{bar:.1f}" height="{a:.1f}" '
                         f'fill="{ANSWERED}"/>')
        label = f"{d.day.month}/{d.day.day}" if i == 0 or d.day.day == 1 else str(d.day.day)
        parts.append(f'<text x="{mid:.1f}" y="{BASE - h - 4:.1f}" font-size="13" text-anchor="middle" '
                     f'fill="#333">{compact(d.messages)}</text>')
        parts.append(f'<text x="{mid:.1f}" y="{BASE + 15}" font-size="12" text-anchor="middle" '
                     f'fill="#666">{label}</text>')
        parts.append(f'<text x="{mid:.1f}" y="{BASE + 32}" font-size="12" text-anchor="middle" '
                     f'fill="{ANSWERED if d.messages else "#aaa"}">{percent(d.share) if d.messages else "–"}</text>')
        parts.append('</g>')
    parts.append('</svg>')
    return Markup("".join(parts))


def width(value: int, top: int) -> str:
    """A bar's CSS width for `value` out of `top`: at least a sliver for anything above zero."""
    if value <= 0 or top <= 0:
        return "0%"
    return f"{max(value / top * 100, 1.5):.1f}%"
