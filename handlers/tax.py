"""退税: how much comes back for a purchase, and the rules for claiming it."""
from __future__ import annotations

from decimal import Decimal

from bot.conversation.router import Context, Router
from bot.travel.money import MAX_AMOUNT
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("tax")


@router.on_intent("tax_refund")
@router.on_click("TAX_REFUND")
def tax_refund(msg: Incoming, ctx: Context) -> Reply:
    rules = ctx.services.content.tax
    query = ctx.captures.get("query")
    page = f"{ctx.cards.public_base_url}/p/info/tax_refund" + ("?lang=en" if ctx.lang == "en" else "")
    if query is None or query.amount is None:
        return ctx.cards.text("tax_rules", ctx.lang, rules=rules, page=page)
    money = ctx.services.content.money
    if query.amount > MAX_AMOUNT:
        return ctx.cards.text("amount_too_large", ctx.lang,
                              source_name=money.currencies[query.source].name.get(ctx.lang, query.source))
    amount_krw = query.amount
    converted_from = None
    if query.source != "KRW":
        quote = ctx.services.rates.quote()
        per_unit = quote.table.per_unit(query.source) if quote else None
        if per_unit is None:
            return ctx.cards.text("money_unavailable", ctx.lang)
        converted_from = {"amount": money.currencies[query.source].format(query.amount),
                          "name": money.currencies[query.source].name.get(ctx.lang, ""),
                          "as_of": quote.table.as_of.strftime("%Y-%m-%d"), "source": quote.table.source}
        amount_krw = query.amount * per_unit
    estimate = rules.estimate(int(amount_krw.to_integral_value()) if isinstance(amount_krw, Decimal) else amount_krw)
    return ctx.cards.text("tax_estimate", ctx.lang, rules=rules, e=estimate, converted_from=converted_from, page=page)
