"""Booking tours and tickets in the chat: product → date → time → party → name → phone → summary → confirm.

The answers so far live in the conversation state (`state["bk"]`, Redis, with its TTL); each step asks
for the first missing answer, so "改成周日" at any step changes one answer and carries on from there.
One message may answer several questions ("订乱打秀 周六晚上8点 2个人"): every open answer it gives is
taken, and the reply says back what was noted.
Confirmation goes to `bot.bookings`, which takes the seats atomically and is idempotent per flow.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from bot.bookings import orders as bookings, coupons, links, passports
from bot import jobs
from bot.bookings.parsing import Party, parse_date, parse_name, parse_party, parse_phone, parse_slot, strip_change
from bot.wechat.inbound import Incoming
from bot.infra.text import normalize
from bot.conversation.nlu import parse_pick
from bot.travel.products import Product
from bot.wechat.replies import Reply
from bot.conversation.router import Context, Outcome, Router

router = Router("booking")
log = logging.getLogger(__name__)
FLOW = "booking"


# --- entry points ---------------------------------------------------------------------------------
@router.on_intent("book")
@router.on_click("BOOK", "BOOK_*")
def start(msg: Incoming, ctx: Context) -> Outcome:
    """Start (or restart) a booking, at the date when the product is known, else at the list."""
    catalogue = ctx.services.content.products
    product_id = ctx.captures.get("product")
    if msg.event == "click" and msg.key.startswith("BOOK_"):
        product_id = msg.key.removeprefix("BOOK_").lower()
    bk: dict[str, Any] = {"k": bookings.new_flow_key()}
    # Contact details from an earlier booking in this conversation are still the traveler's.
    previous = ctx.state.get("bk") or {}
    name, phone = previous.get("n"), previous.get("ph")
    if not (name and phone) and isinstance(ctx.state.get("contact"), list) and len(ctx.state["contact"]) == 2:
        name, phone = ctx.state["contact"]
    if name and phone:
        bk["n"], bk["ph"] = name, phone
    product = catalogue.get(product_id) if product_id else None
    if product is not None:
        bk["p"] = product_id
        before = dict(bk)
        wrong = _take_extras(ctx, bk, product, msg.text or "")  # "订乱打秀 明天晚上8点 2个人"
        noted = _noted(before, bk)
        if wrong:
            return _ask(ctx, bk, wrong[0], problem=wrong[1], intro=True, noted=noted)
        return _advance(ctx, bk, intro=True, noted=noted)
    return _advance(ctx, bk, intro=True)


@router.on_intent("product")
def product_card(msg: Incoming, ctx: Context) -> Reply:
    product = ctx.services.content.products.get(ctx.captures["product"])
    assert product is not None
    return ctx.cards.news("product", ctx.lang, product=product, url=links.product_url(ctx.services.config, product),
                          **_prices(ctx, product, Party(1)))


@router.on_intent("confirm")
def confirm_outside_flow(msg: Incoming, ctx: Context) -> Reply:
    """"确认" after the flow ended (a second tap, or a late retry): show the booking it made."""
    ref = ctx.state.get("last_booking")
    booking = bookings.get(ctx.services.db, ref) if ref else None
    if booking is None or booking.openid != msg.openid:
        return ctx.cards.text("booking_nothing_to_confirm", ctx.lang)
    return _booked_card(ctx, booking, again=True)


# --- the flow -------------------------------------------------------------------------------------
@router.on_step(FLOW)
def step(msg: Incoming, ctx: Context) -> Outcome:
    bk = dict(ctx.state.get("bk") or {})
    current = ctx.state.get("step", "product")
    text = (msg.text or "").strip()
    if not text:
        return _ask(ctx, bk, current, problem="need_text")
    understood = ctx.services.content.understander.understand(text)
    if understood and understood.intent == "book" and understood.captures.get("product"):
        if understood.captures["product"] == bk.get("p"):
            return _ask(ctx, bk, current)  # "订DMZ" again while booking it: where we are
        ctx.captures = dict(understood.captures)
        return start(msg, ctx)  # "我想订乱打秀" in the middle of another booking: switch
    change = strip_change(text)
    if change is not None:
        return _change(ctx, bk, current, change)
    if current == "confirm":
        answer = ctx.services.content.understander.intents.exact(text)
        if (answer and answer.intent in ("confirm", "agree")) or parse_pick(text) == 1:
            return _confirm(msg, ctx, bk)
        if answer and answer.intent == "edit":
            return _ask(ctx, bk, "confirm", problem="how_to_edit")
        # A bare answer at the summary ("周日", "3个人") is a change too.
        return _change(ctx, bk, current, text)
    before = dict(bk)
    problem = _take_answer(ctx, bk, current, text)
    answered = dict(bk)
    product = ctx.services.content.products.get(bk.get("p", ""))
    wrong = _take_extras(ctx, bk, product, text) if product and problem != "product_gone" else None
    noted = _noted(answered, bk)
    if wrong:
        return _ask(ctx, bk, wrong[0], problem=wrong[1], noted=noted)
    if problem and bk == before:  # nothing in the message answers anything still open
        return _ask(ctx, bk, current, problem=problem)
    return _advance(ctx, bk, noted=noted)


def _noted(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The answers a message gave besides the one asked for, to say back what was understood."""
    return [key for key in ("d", "s", "a", "ph") if after.get(key) and not before.get(key)]


def _take_extras(ctx: Context, bk: dict[str, Any], product: Product, text: str) -> tuple[str, str] | None:
    """Fill every open answer the message also gives ("明天晚上8点 2个人" at the date question).

    Answers already given stay (changing one takes "改成"); a bare "2" answers only the question asked.
    Returns (step, problem) for the first answer that cannot be used, e.g. a day the product does not run.
    """
    if not text or parse_pick(text) is not None:
        return None
    wrong: list[tuple[str, str]] = []
    if not bk.get("d") and (day := parse_date(text, _today(ctx))) is not None:
        if problem := _set_date(ctx, bk, product, day):
            wrong.append(("date", problem))
    if product.slots and bk.get("d") and not bk.get("s"):
        if (slot := parse_slot(text, _slots(ctx, bk, product))) is not None:
            bk["s"] = slot
    if not bk.get("a") and (party := parse_party(text)) is not None:
        if problem := _set_party(ctx, bk, product, party):
            wrong.append(("party", problem))
    if not bk.get("ph") and (phone := parse_phone(text)) is not None:
        bk["ph"] = phone
    return wrong[0] if wrong else None


def _take_answer(ctx: Context, bk: dict[str, Any], current: str, text: str) -> str | None:
    """Store the answer to `current` in `bk`; the problem key when it is not a usable answer."""
    catalogue = ctx.services.content.products
    if current == "product":
        number = parse_pick(text)
        products = list(catalogue)
        product = products[number - 1] if number and number <= len(products) else catalogue.find(text)
        if product is None:
            return "product"
        bk["p"] = product.id
        return None
    product = catalogue.get(bk.get("p", ""))
    if product is None:  # retired from the catalogue mid-flow
        bk.pop("p", None)
        return "product_gone"
    if current == "date":
        return _set_date(ctx, bk, product, parse_date(text, _today(ctx)))
    if current == "party":
        return _set_party(ctx, bk, product, parse_party(text))
    # The plain answers: parse, store under its short state key, or name the step to ask again.
    parsers = {"slot": ("s", lambda t: parse_slot(t, _slots(ctx, bk, product))), "name": ("n", parse_name),
               "phone": ("ph", parse_phone)}
    if current in parsers:
        key, parse = parsers[current]
        value = parse(text)
        if value is None:
            return current
        bk[key] = value
    return None


def _change(ctx: Context, bk: dict[str, Any], current: str, text: str) -> Outcome:
    """"改成周日" / "改成3个人" / a bare new answer at the summary: the first parser that reads it wins."""
    product = ctx.services.content.products.get(bk.get("p", ""))
    if product is None:
        return _ask(ctx, bk, current, problem="product")
    day = parse_date(text, _today(ctx))
    if day is not None:
        problem = _set_date(ctx, bk, product, day)
        return _ask(ctx, bk, "date", problem=problem) if problem else _advance(ctx, bk)
    party = parse_party(text)
    if party is not None:
        problem = _set_party(ctx, bk, product, party)
        return _ask(ctx, bk, "party", problem=problem) if problem else _advance(ctx, bk)
    phone = parse_phone(text)
    if phone is not None:
        bk["ph"] = phone
        return _advance(ctx, bk)
    if product.slots and bk.get("d"):
        slot = parse_slot(text, _slots(ctx, bk, product))
        if slot is not None:
            bk["s"] = slot
            return _advance(ctx, bk)
    if current == "name" or (current == "confirm" and normalize(text).startswith(("名字", "姓名"))):
        name = parse_name(text)
        if name is not None:
            bk["n"] = name
            return _advance(ctx, bk)
    return _ask(ctx, bk, current, problem="how_to_edit" if current == "confirm" else current)


def _set_date(ctx: Context, bk: dict[str, Any], product: Product, day: date | None) -> str | None:
    if day is None:
        return "date"
    today = _today(ctx)
    if day > today + timedelta(days=300) and day.replace(year=day.year - 1) < today:
        day = day.replace(year=day.year - 1)  # "11月20日" on 25 Nov means five days ago, not next year
    if day < today:
        bk["bad_day"] = day.isoformat()
        return "date_past"
    if (day - today).days > 180:
        bk["bad_day"] = day.isoformat()
        return "date_far"
    if not product.runs_on(day):
        bk["bad_day"] = day.isoformat()
        return "date_closed"
    if not product.bookable_slots(day, ctx.services.clock.now()):
        bk["bad_day"] = day.isoformat()
        return "date_lead"
    bk["d"] = day.isoformat()
    bk.pop("bad_day", None)
    if bk.get("s") not in _slots(ctx, bk, product):
        bk.pop("s", None)  # that time does not run (or is too soon) on the new day
    return None


def _set_party(ctx: Context, bk: dict[str, Any], product: Product, party: Party | None) -> str | None:
    if party is None:
        return "party"
    bk["a"], bk["c"] = party.adults, party.children
    bk["group"] = party.total >= _group_size(ctx, product)
    if not bk["group"] and bk.get("d") and bk.get("s"):
        left = bookings.remaining(ctx.services.db, product, date.fromisoformat(bk["d"]), bk["s"])
        if left < party.total:
            bk["left"] = left
            bk.pop("a", None)
            return "party_too_many" if left else "sold_out"
    return None


def _group_size(ctx: Context, product: Product) -> int:
    """Parties this large go to staff: the product's own limit + 1, or the configured group size."""
    configured = ctx.services.config.bookings.group_min_party
    return min(configured, product.max_party + 1) if product.max_party else configured


def _slots(ctx: Context, bk: dict[str, Any], product: Product) -> list[str]:
    if not bk.get("d"):
        return list(product.slots)
    return product.bookable_slots(date.fromisoformat(bk["d"]), ctx.services.clock.now())


def _next(ctx: Context, bk: dict[str, Any]) -> str:
    """The first question still open (a product with one start time that day gets it filled in)."""
    product = ctx.services.content.products.get(bk.get("p", ""))
    if product is None:
        return "product"
    if not bk.get("d"):
        return "date"
    if not bk.get("s"):
        slots = _slots(ctx, bk, product)
        if len(slots) == 1:
            bk["s"] = slots[0]
        else:
            return "slot"
    if not bk.get("a"):
        return "party"
    if not bk.get("n"):
        return "name"
    if not bk.get("ph"):
        return "phone"
    return "confirm"


def _advance(ctx: Context, bk: dict[str, Any], intro: bool = False, noted: list[str] | None = None) -> Outcome:
    return _ask(ctx, bk, _next(ctx, bk), intro=intro, noted=noted)


def _ask(ctx: Context, bk: dict[str, Any], step_name: str, problem: str | None = None,
         intro: bool = False, noted: list[str] | None = None) -> Outcome:
    """Ask for `step_name` (after saying what was wrong, if anything, and what else was understood)
    and remember where we are."""
    catalogue = ctx.services.content.products
    product = catalogue.get(bk.get("p", ""))
    view: dict[str, Any] = dict(step=step_name, problem=problem or "", intro=intro, noted=noted or [],
                                product=product,
                                products=list(catalogue), bk=bk, day=_day_view(ctx, bk.get("d")),
                                bad_day=_day_view(ctx, bk.get("bad_day")), left=bk.get("left"))
    if product is not None:
        view["slots"] = _slots(ctx, bk, product)
        view["group_size"] = _group_size(ctx, product)
        if step_name == "confirm":
            party = Party(bk["a"], bk.get("c", 0))
            coupon, discount = _coupon(ctx, product, party)
            view.update(_prices(ctx, product, party, discount), coupon=coupon, discount=discount)
            view["group"] = bool(bk.get("group"))
    state = {**ctx.state, "flow": FLOW, "step": step_name, "bk": bk}
    return Outcome(ctx.cards.text("booking_ask", ctx.lang, **view), state)


def _day_view(ctx: Context, iso: str | None) -> str:
    if not iso:
        return ""
    day = date.fromisoformat(iso)
    weekday = ctx.cards.ui[ctx.cards.lang(ctx.lang)]["weekday"][day.weekday()]
    return f"{day.month}月{day.day}日（{weekday}）" if ctx.lang != "en" else f"{day:%a %d %b %Y}"


def _coupon(ctx: Context, product: Product, party: Party) -> tuple[Any, int]:
    """The follower's best coupon for this booking and its discount (None, 0 when none applies)."""
    return coupons.best(ctx.services.db, ctx.services.content.coupons, ctx.openid, product.id,
                        product.price(party.adults, party.children), _today(ctx))


def _prices(ctx: Context, product: Product, party: Party, discount: int = 0) -> dict[str, Any]:
    """KRW total (after `discount`) and, when rates are available, about how much that is in yuan."""
    total = product.price(party.adults, party.children) - discount
    cny = ""
    quote = ctx.services.rates.quote()
    if quote is not None:
        value = quote.table.convert(Decimal(total), "KRW", "CNY")
        if value is not None:
            cny = f"{value:,.0f}"
    return {"total_krw": total, "total_cny": cny, "party": party}


def _today(ctx: Context) -> date:
    return ctx.services.clock.now().date()


# --- confirmation -----------------------------------------------------------------------------
def _confirm(msg: Incoming, ctx: Context, bk: dict[str, Any]) -> Outcome:
    s = ctx.services
    product = s.content.products.get(bk.get("p", ""))
    if product is None or _next(ctx, bk) != "confirm":
        return _advance(ctx, bk)
    day = date.fromisoformat(bk["d"])
    now = s.clock.now()
    problem = _set_date(ctx, bk, product, day)  # time has passed since the summary: still bookable?
    if problem:
        return _ask(ctx, bk, "date", problem=problem)
    coupon, discount = _coupon(ctx, product, Party(bk["a"], bk.get("c", 0)))
    order = bookings.Order(openid=msg.openid, product=product, day=day, slot=bk["s"], adults=bk["a"],
                           children=bk.get("c", 0), contact_name=bk["n"], phone=bk["ph"], flow_key=bk["k"],
                           lang=ctx.lang, coupon_id=coupon.id if coupon else None, discount_krw=discount)
    rest = {k: v for k, v in ctx.state.items() if k not in ("flow", "step", "bk")}
    if bk.get("group"):
        request = bookings.request_group(s.db, order, now)
        return Outcome(ctx.cards.text("booking_group", ctx.lang, request=request, product=product,
                                      day=_day_view(ctx, bk["d"])), rest)
    try:
        booking = bookings.book(s.db, order, now)
    except bookings.SoldOut as exc:
        bk["left"] = exc.remaining
        bk.pop("a", None)
        return _ask(ctx, bk, "party", problem="party_too_many" if exc.remaining else "sold_out")
    except bookings.CouponSpent:
        return _ask(ctx, bk, "confirm", problem="coupon_spent")  # the summary again, priced without it
    except bookings.NotBookable:
        log.error("product %s is in the catalogue but not bookable in the database: run `products sync`",
                  product.id)
        return Outcome(ctx.cards.text("apology", ctx.lang), rest)
    _send_confirmation(ctx, booking.ref)
    return Outcome(_booked_card(ctx, booking), {**rest, "last_booking": booking.ref, "contact": [bk["n"], bk["ph"]]})


def _booked_card(ctx: Context, booking: Any, again: bool = False) -> Reply:
    catalogue = ctx.services.content.products
    return ctx.cards.news("booking_done", ctx.lang, booking=booking, again=again, names=catalogue.names(ctx.lang),
                          day=_day_view(ctx, booking.day.isoformat()),
                          passport=booking.product_id in catalogue.needing_passports,
                          url=links.booking_url(ctx.services.config, booking.ref, booking.openid))


def _send_confirmation(ctx: Context, ref: str) -> None:
    """The template message goes through the job queue: the reply must not wait for WeChat's API."""
    if not ctx.services.config.bookings.template_id:
        return
    try:
        jobs.enqueue_booking_confirmation(ctx.services.queue, ref)
    except Exception:  # noqa: BLE001 - the booking stands; the chat reply already confirms it
        log.exception("could not queue the confirmation message for %s", ref)


# --- after booking: list and cancel ---------------------------------------------------------------
@router.on_intent("my_bookings")
@router.on_click("MY_BOOKINGS")
def my_bookings(msg: Incoming, ctx: Context) -> Reply:
    found = bookings.for_follower(ctx.services.db, msg.openid)
    config = ctx.services.config
    needs = ctx.services.content.products.needing_passports
    recorded = passports.travelers(ctx.services.db, [b.ref for b in found if b.product_id in needs])
    items = [{"b": b, "day": _day_view(ctx, b.day.isoformat()), "url": links.booking_url(config, b.ref, b.openid),
              "passports": len(recorded[b.ref]) if b.ref in recorded else None} for b in found]
    return ctx.cards.text("booking_list", ctx.lang, items=items, names=ctx.services.content.products.names(ctx.lang))


@router.on_intent("cancel_booking")
def cancel_booking(msg: Incoming, ctx: Context) -> Reply:
    ref = ctx.captures.get("ref")
    if not ref:
        found = [b for b in bookings.for_follower(ctx.services.db, msg.openid) if b.status == "confirmed"]
        return ctx.cards.text("booking_cancel_which", ctx.lang, items=found,
                              names=ctx.services.content.products.names(ctx.lang))
    now: datetime = ctx.services.clock.now()
    result = bookings.cancel(ctx.services.db, ctx.services.content.products, msg.openid, ref, now)
    deadline = result.deadline.strftime("%m月%d日 %H:%M") if result.deadline else ""
    return ctx.cards.text("booking_cancelled", ctx.lang, result=result, ref=ref, deadline=deadline)
