"""Booking tours and tickets in the chat: product → date → time → party → name → phone → summary → confirm.

Routing and rendering only: the answers and the rules for taking them live in
`bot.bookings.draft.BookingDraft` (kept in the conversation state, Redis, with its TTL). Each reply asks
for the draft's first missing answer, so "改成周日" at any step changes one answer and carries on.
Confirmation goes to `bot.bookings.orders`, which takes the seats atomically and is idempotent per flow.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from bot.bookings import coupons, links, passports
from bot.bookings import orders as bookings
from bot.bookings.draft import (
    FLOW,
    LAST_BOOKING_KEY,
    LAST_PRODUCT_KEY,
    Ask,
    BookingDraft,
    Facts,
    Problem,
    Step,
    answers,
)
from bot.bookings.parsing import Party, strip_change
from bot.conversation.nlu import parse_pick
from bot.conversation.router import Context, Outcome, Router
from bot.infra import queue
from bot.infra.clock import SEOUL, in_seoul
from bot.travel.products import Product
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("booking")
log = logging.getLogger(__name__)


# --- entry points ---------------------------------------------------------------------------------
@router.on_intent("book", io=True)
@router.on_click("BOOK", "BOOK_*", io=True)
def start(msg: Incoming, ctx: Context) -> Outcome:
    """Start (or restart) a booking, at the date when the product is known, else at the list."""
    facts = _facts(ctx)
    product_id = ctx.captures.get("product")
    if msg.event == "click" and msg.key.startswith("BOOK_"):
        product_id = msg.key.removeprefix("BOOK_").lower()
    draft = BookingDraft.begin(bookings.new_flow_key(), ctx.state)
    product = facts.catalogue.get(product_id) if product_id else None
    if product is None:
        return _ask(ctx, facts, draft, Ask(draft.next_step(facts)), intro=True)
    text = msg.text or ""  # "订乱打秀 明天晚上8点 2个人"
    return _ask(ctx, facts, draft, draft.choose_product(product, text, facts, parse_pick(text)), intro=True)


@router.on_intent("product", io=True)
def product_card(msg: Incoming, ctx: Context) -> Reply:
    product = ctx.services.content.products.get(ctx.captures["product"])
    assert product is not None
    ctx.state[LAST_PRODUCT_KEY] = product.id  # "订两张" next books this one
    url = links.product_url(ctx.services.config, product, ctx.lang)
    return ctx.cards.news("product", ctx.lang, product=product, url=url,
                          **_prices(ctx, product, Party(1)))


@router.on_intent("products")
def catalogue(msg: Incoming, ctx: Context) -> Reply:
    """"能订什么" / "有什么一日游": the bookable products as a numbered list; a number opens one, and no booking
    starts until the traveler asks for one (a question after the list is a question)."""
    products = list(ctx.services.content.products)
    ctx.state["list"] = {"kind": "products", "ids": [p.id for p in products], "end": len(products)}
    return ctx.cards.text("products_list", ctx.lang, products=products)


@router.on_intent("confirm", io=True)
def confirm_outside_flow(msg: Incoming, ctx: Context) -> Reply:
    """"确认" after the flow ended (a second tap, or a late retry): show the booking it made."""
    ref = ctx.state.get(LAST_BOOKING_KEY)
    booking = bookings.get(ctx.services.db, ref) if ref else None
    if booking is None or booking.openid != msg.openid:
        return ctx.cards.text("booking_nothing_to_confirm", ctx.lang)
    return _booked_card(ctx, booking, again=True)


# --- the flow -------------------------------------------------------------------------------------
def _answers_step(text: str, state: dict[str, Any]) -> bool:
    return answers(Step.parse(state.get("step")), text, datetime.now(SEOUL).date())


@router.on_step(FLOW, accepts=_answers_step, io=True)
def step(msg: Incoming, ctx: Context) -> Outcome:
    facts = _facts(ctx)
    draft = BookingDraft.from_state(ctx.state) or BookingDraft()
    if not draft.flow_key:  # a flow state without a draft (older code, a fixture): confirming needs one
        draft.flow_key = bookings.new_flow_key()
    current = Step.parse(ctx.state.get("step")) or draft.next_step(facts)
    text = (msg.text or "").strip()
    if not text:
        return _ask(ctx, facts, draft, Ask(current, Problem.NEED_TEXT))
    understood = ctx.services.content.understander.understand(text)
    if understood and understood.intent == "resume":  # "继续" after a question outside the flow
        return _ask(ctx, facts, draft, Ask(current))
    if understood and understood.intent == "book" and understood.captures.get("product"):
        if understood.captures["product"] == draft.product_id:
            return _ask(ctx, facts, draft, Ask(current))  # "订DMZ" again while booking it: where we are
        ctx.captures = dict(understood.captures)
        return start(msg, ctx)  # "我想订乱打秀" in the middle of another booking: switch
    change = strip_change(text)
    if change is not None:
        return _ask(ctx, facts, draft, draft.change(change, current, facts))
    if current is Step.CONFIRM:
        answer = ctx.services.content.understander.intents.exact(text)
        if (answer and answer.intent in ("confirm", "agree")) or parse_pick(text) == 1:
            return _confirm(msg, ctx, draft, facts)
        if answer and answer.intent == "edit":
            return _ask(ctx, facts, draft, Ask(Step.CONFIRM, Problem.HOW_TO_EDIT))
        # A bare answer at the summary ("周日", "3个人") is a change too.
        return _ask(ctx, facts, draft, draft.change(text, current, facts))
    return _ask(ctx, facts, draft, draft.answer(current, text, facts, parse_pick(text)))


def _facts(ctx: Context) -> Facts:
    s = ctx.services
    return Facts(catalogue=s.content.products, now=s.clock.now(), group_min_party=s.config.bookings.group_min_party,
                 seats_left=lambda product, day, slot: bookings.remaining(s.db, product, day, slot))


def _ask(ctx: Context, facts: Facts, draft: BookingDraft, ask: Ask, intro: bool = False) -> Outcome:
    """Ask for `ask.step` (after saying what was wrong, if anything, and what else was understood)
    and remember where we are."""
    product = draft.product(facts.catalogue)
    view: dict[str, Any] = dict(step=ask.step.value, problem=ask.problem.value if ask.problem else "", intro=intro,
                                noted=list(ask.noted), product=product,
                                products=list(facts.catalogue), draft=draft, day=_day_view(ctx, draft.day),
                                bad_day=_day_view(ctx, draft.rejected_day), left=draft.seats_left)
    if product is not None:
        view["slots"] = draft.slots(product, facts.now)
        view["group_size"] = facts.group_size(product)
        if ask.step is Step.CONFIRM and draft.party is not None:
            party = draft.party
            coupon, discount = _coupon(ctx, product, party)
            view.update(_prices(ctx, product, party, discount), coupon=coupon, discount=discount)
            view["group"] = draft.group
    return Outcome(ctx.cards.text("booking_ask", ctx.lang, **view), draft.save(ctx.state, ask.step))


def _day_view(ctx: Context, day: date | None) -> str:
    if day is None:
        return ""
    weekday = ctx.cards.ui[ctx.cards.lang(ctx.lang)]["weekday"][day.weekday()]
    return f"{day.month}月{day.day}日（{weekday}）" if ctx.lang != "en" else f"{day:%a %d %b %Y}"


def _coupon(ctx: Context, product: Product, party: Party) -> tuple[Any, int]:
    """The follower's best coupon for this booking and its discount (None, 0 when none applies)."""
    return coupons.best(ctx.services.db, ctx.services.content.coupons, ctx.openid, product.id,
                        product.price(party.adults, party.children), _today(ctx))


def _prices(ctx: Context, product: Product, party: Party, discount: int = 0) -> dict[str, Any]:
    """KRW total (after `discount`) and, when rates are available, about how much that is in yuan."""
    total = product.price(party.adults, party.children) - discount
    cny, rate_day = ctx.services.rates.yuan_estimate(total)
    return {"total_krw": total, "total_cny": cny, "rate_day": rate_day, "party": party}


def _today(ctx: Context) -> date:
    return ctx.services.clock.now().date()


# --- confirmation -----------------------------------------------------------------------------
def _confirm(msg: Incoming, ctx: Context, draft: BookingDraft, facts: Facts) -> Outcome:
    s = ctx.services
    if (next_step := draft.next_step(facts)) is not Step.CONFIRM:
        return _ask(ctx, facts, draft, Ask(next_step))
    if (ask := draft.recheck(facts)) is not None:
        return _ask(ctx, facts, draft, ask)
    product, party = draft.product(facts.catalogue), draft.party
    assert product is not None and party is not None and draft.day and draft.slot and draft.name and draft.phone
    coupon, discount = _coupon(ctx, product, party)
    order = bookings.Order(openid=msg.openid, product=product, day=draft.day, slot=draft.slot, adults=party.adults,
                           children=party.children, contact_name=draft.name, phone=draft.phone,
                           flow_key=draft.flow_key, lang=ctx.lang, coupon_id=coupon.id if coupon else None,
                           discount_krw=discount, hold_minutes=s.config.pay.hold_minutes)
    if order.paid_in_wechat and not draft.group and not s.config.pay.enabled:
        log.error("product %s needs WeChat Pay, which is not configured (WECHAT_PAY_*)", product.id)
        return Outcome(ctx.cards.text("booking_payment_unavailable", ctx.lang, product=product),
                       BookingDraft.ended(ctx.state))
    if draft.group:
        request = bookings.request_group(s.db, order, facts.now)
        return Outcome(ctx.cards.text("booking_group", ctx.lang, request=request, product=product,
                                      day=_day_view(ctx, draft.day)), BookingDraft.ended(ctx.state))
    try:
        booking = bookings.book(s.db, order, facts.now)
    except bookings.SoldOut as exc:
        return _ask(ctx, facts, draft, Ask(Step.PARTY, draft.no_seats(exc.remaining)))
    except bookings.CouponSpent:  # the summary again, priced without it
        return _ask(ctx, facts, draft, Ask(Step.CONFIRM, Problem.COUPON_SPENT))
    except bookings.NotBookable:
        log.error("product %s is in the catalogue but not bookable in the database: run `products sync`",
                  product.id)
        return Outcome(ctx.cards.text("apology", ctx.lang), BookingDraft.ended(ctx.state))
    if booking.status == "pending_payment":
        _schedule_expiry(ctx, booking)
    else:
        _send_confirmation(ctx, booking.ref)
    return Outcome(_booked_card(ctx, booking), draft.booked(ctx.state, booking.ref))


def _booked_card(ctx: Context, booking: Any, again: bool = False) -> Reply:
    """The booking as a card: "pay within 15 minutes" while unpaid, the confirmation once paid or on site."""
    catalogue = ctx.services.content.products
    hold = in_seoul(booking.hold_until).strftime("%H:%M") if booking.hold_until else ""
    product = catalogue.get(booking.product_id)
    prices = _prices(ctx, product, Party(booking.adults, booking.children), booking.discount_krw) if product else {}
    return ctx.cards.news("booking_done", ctx.lang, booking=booking, again=again, names=catalogue.names(ctx.lang),
                          day=_day_view(ctx, booking.day), hold_until=hold,
                          simulated=ctx.services.config.pay.simulated,
                          total_cny=prices.get("total_cny", ""), rate_day=prices.get("rate_day", ""),
                          passport=booking.product_id in catalogue.needing_passports,
                          url=links.booking_url(ctx.services.config, booking))


def _schedule_expiry(ctx: Context, booking: Any) -> None:
    """A sweep when the hold ends frees the seats of an unpaid order (the periodic sweep catches it too)."""
    try:
        queue.enqueue_payments_sweep(ctx.services.queue, booking.hold_until + timedelta(seconds=5))
    except Exception:  # noqa: BLE001 - the periodic sweep (`flask payments sweep`, workers) expires it anyway
        log.exception("could not schedule the payment sweep for %s", booking.ref)


def _send_confirmation(ctx: Context, ref: str) -> None:
    """The template message goes through the job queue: the reply must not wait for WeChat's API."""
    if not ctx.services.config.bookings.template_id:
        return
    try:
        queue.enqueue_booking_confirmation(ctx.services.queue, ref)
    except Exception:  # noqa: BLE001 - the booking stands; the chat reply already confirms it
        log.exception("could not queue the confirmation message for %s", ref)


# --- after booking: list and cancel ---------------------------------------------------------------
@router.on_intent("my_bookings", io=True)
@router.on_click("MY_BOOKINGS", io=True)
def my_bookings(msg: Incoming, ctx: Context) -> Reply:
    found = bookings.for_follower(ctx.services.db, msg.openid)
    config = ctx.services.config
    needs = ctx.services.content.products.needing_passports
    recorded = passports.travelers(ctx.services.db, [b.ref for b in found if b.product_id in needs])
    items = [{"b": b, "day": _day_view(ctx, b.day), "url": links.booking_url(config, b),
              "passports": len(recorded[b.ref]) if b.ref in recorded else None} for b in found]
    return ctx.cards.text("booking_list", ctx.lang, items=items, names=ctx.services.content.products.names(ctx.lang))


@router.on_intent("cancel_booking", io=True)
def cancel_booking(msg: Incoming, ctx: Context) -> Reply:
    ref = ctx.captures.get("ref")
    if not ref:
        found = [b for b in bookings.for_follower(ctx.services.db, msg.openid)
                 if b.status in ("confirmed", "pending_payment", "paid")]
        named = [b for b in found if b.product_id == ctx.captures.get("product")]  # "取消乱打秀那个"
        found = named or found
        ctx.state["list"] = {"kind": "cancel", "ids": [b.ref for b in found], "end": len(found)}  # "1" picks
        return ctx.cards.text("booking_cancel_which", ctx.lang, items=found,
                              names=ctx.services.content.products.names(ctx.lang))
    now: datetime = ctx.services.clock.now()
    result = bookings.cancel(ctx.services.db, ctx.services.content.products, msg.openid, ref, now)
    deadline = result.deadline.strftime("%m月%d日 %H:%M") if result.deadline else ""
    try:
        if result.status == "refunding":
            queue.enqueue_refunds(ctx.services.queue)
        elif result.status == "cancelled" and result.booking is not None and result.booking.prepay_id:
            queue.enqueue_close_cancelled(ctx.services.queue, result.booking.ref)
    except Exception:  # noqa: BLE001 - recorded in the database; the payments sweep sends refunds, and a late
        log.exception("could not queue the follow-up of cancelling %s", ref)  # payment is refunded anyway
    return ctx.cards.text("booking_cancelled", ctx.lang, result=result, ref=ref, deadline=deadline,
                          refund=result.refund_krw)
