"""Currency conversion and exchange rates, always with the rate's time and source."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from bot.conversation.followups import remember_money
from bot.conversation.router import Context, Router
from bot.infra.clock import SEOUL
from bot.travel.money import MAX_AMOUNT, MoneyQuery
from bot.travel.rates import RateTable
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("money")
OLD_AFTER = timedelta(days=2)  # older than this, say plainly it is a reference rate, not today's


def _rate_text(rate: Decimal) -> str:
    return f"{rate:,.2f}" if rate >= 10 else f"{rate:,.4f}".rstrip("0").rstrip(".")


def _age_text(seconds: float, lang: str) -> str:
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{max(minutes, 1)} 分钟" if lang != "en" else f"{max(minutes, 1)} min"
    hours = minutes // 60
    if hours < 48:
        return f"{hours} 小时" if lang != "en" else f"{hours} h"
    return f"{hours // 24} 天" if lang != "en" else f"{hours // 24} days"


def _row(table: RateTable, code: str, names: dict[str, str]) -> dict[str, str]:
    """One currency's reference rate, and the bank's wire buying / selling rates when the source gives them."""
    buy, sell = table.buy.get(code), table.sell.get(code)
    return {"name": names[code], "rate": _rate_text(table.rates[code]),
            "buy": _rate_text(buy) if buy else "", "sell": _rate_text(sell) if sell else ""}


@router.on_intent("money")
@router.on_click("RATES")
def money(msg: Incoming, ctx: Context) -> Reply:
    parser = ctx.services.content.money
    query: MoneyQuery = ctx.captures.get("query") or MoneyQuery("rate")
    quote = ctx.services.rates.quote()
    if quote is None:
        return ctx.cards.text("money_unavailable", ctx.lang)
    table = quote.table
    names = {code: c.name.get(ctx.lang, c.name["zh-CN"]) for code, c in parser.currencies.items()}
    now = ctx.services.clock.now()
    as_of = table.as_of.astimezone(SEOUL)
    common = dict(
        as_of=as_of.strftime("%Y-%m-%d %H:%M"), source=table.label or table.source,
        stale_age=_age_text(quote.age_seconds(), ctx.lang) if quote.stale else "",
        old=now - table.as_of > OLD_AFTER, base=names.get(table.base, table.base),
        # A weekend, a holiday or a morning before the bank publishes: the last business day's rates, said so.
        earlier_day=ctx.cards.ui[ctx.cards.lang(ctx.lang)]["weekday"][as_of.weekday()]
        if table.label and as_of.date() < now.astimezone(SEOUL).date() and not quote.stale else "",
    )
    if query.kind == "rate":
        codes = query.currencies or tuple(c for c in parser.listed if c != table.base)
        rows = [_row(table, c, names) for c in codes if c in table.rates]
        missing = [names[c] for c in codes if c not in table.rates and c != table.base]
        return ctx.cards.text("money_rates", ctx.lang, rows=rows, missing=missing, **common)

    assert query.amount is not None and query.source is not None
    remember_money(ctx.state, query)  # "那500呢", "人民币呢" next
    source = parser.currencies[query.source]
    if query.amount > MAX_AMOUNT:
        return ctx.cards.text("amount_too_large", ctx.lang, source_name=names[query.source])
    results, missing = [], []
    for code in query.targets:
        value = table.convert(query.amount, query.source, code)
        if value is None:
            missing.append(names[code])
            continue
        results.append({"value": parser.currencies[code].format(value), "name": names[code]})
    if table.per_unit(query.source) is None:
        missing = [names[query.source]]
        results = []
    rate_codes = [c for c in (query.source, *query.targets) if c != table.base and c in table.rates]
    rates = [_row(table, c, names) for c in dict.fromkeys(rate_codes)]
    return ctx.cards.text("money_convert", ctx.lang, amount=source.format(query.amount),
                          source_name=names[query.source],
                          results=results, rates=rates, missing=missing, **common)
