"""Paying for bookings (issue #15): the booking page's pay and status calls, POST /pay/notify, late payments,
payments after a cancellation, refunds, and the sweep that expires holds and finds lost notifications.

Everything crosses real HTTP: the app's WeChat Pay client talks to the session's FakeWeChatPay (Global,
institutional mode), and WeChat Pay's notifications are POSTed to the app's endpoint byte for byte as the fake
signed and encrypted them. The app's clock is fixed (the show is on 2026-12-05, booked on 2026-11-25 10:00, seats
held 15 minutes); signatures use the real time, as the fake signs with it. Every test runs on both back-ends.
"""
from __future__ import annotations

import io
import logging
import time
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.bookings import orders
from bot.devtools.fake_pay import Notification, merchant_keys
from bot.devtools.pay_setup import MCHID, SUB_MCHID
from bot.infra.clock import Clock, in_seoul
from bot.infra.db.models import Booking, BookingEvent, PaymentNotice, Refund, SlotInventory
from bot.pay import crypto
from tests import builders
from tests.app.test_booking_chat import WEDNESDAY, book_nanta
from tests.support import APPID, Payer, WeChat

JSAPI = "/v3/global/transactions/jsapi"
ORDER = "/v3/global/transactions/out-trade-no/"
REFUNDS = "/v3/global/refunds"
HOLD_END = WEDNESDAY + timedelta(minutes=15)  # pay.hold_minutes
SHOW_DAY, SHOW_SLOT = date(2026, 12, 5), "20:00"
TOTAL = 110_000  # 2 x ₩55,000, in won: KRW has no minor unit
PAID = ("pending_payment", "paid", "wechatpay:notify", "paid")


# --- looking at the app's database, the fake and the chat ------------------------------------------------
def _ext(app):  # type: ignore[no-untyped-def]
    return app.extensions["yjy"]


def _at(app, when: datetime) -> datetime:  # type: ignore[no-untyped-def]
    _ext(app).services.clock = Clock(when)
    return when


def _aware(when: datetime | None) -> datetime | None:
    return None if when is None else in_seoul(when)


def _booking(app, ref: str) -> Booking:  # type: ignore[no-untyped-def]
    found = orders.get(_ext(app).db, ref)
    assert found is not None, ref
    return found


def _moves(app, ref: str) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    """The booking's status changes after it was created: (from, to, actor, reason)."""
    with _ext(app).db.session() as s:
        rows = s.scalars(select(BookingEvent).where(BookingEvent.booking_ref == ref).order_by(BookingEvent.id))
        return [(e.from_status, e.to_status, e.actor, e.reason) for e in rows if e.from_status is not None]


def _notices(app, ref: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with _ext(app).db.session() as s:
        rows = s.scalars(select(PaymentNotice).where(PaymentNotice.out_trade_no == ref)
                         .order_by(PaymentNotice.received_at))
        return [(n.event_type, n.outcome) for n in rows]


def _refunds(app, ref: str) -> list[Refund]:  # type: ignore[no-untyped-def]
    with _ext(app).db.session() as s:
        return list(s.scalars(select(Refund).where(Refund.booking_ref == ref).order_by(Refund.out_refund_no)))


def _taken(app) -> int:  # type: ignore[no-untyped-def]
    with _ext(app).db.session() as s:
        row = s.get(SlotInventory, ("nanta_show", SHOW_DAY, SHOW_SLOT))
        return row.taken if row else 0


def _told(fake_api, openid: str) -> list[str]:  # type: ignore[no-untyped-def]
    """The chat messages the traveler got through the customer-service API."""
    return [c.body["text"]["content"] for c in fake_api.calls_to("message/custom/send") if c.body["touser"] == openid]


def _page_call(payer: Payer, ref: str, action: str, query: str | None = None) -> str:
    path, _, own_query = payer.link(ref).partition("?")
    return f"{path}/{action}?{own_query if query is None else query}"


def _booked(app, fake_pay, openid: str, *, checkout: bool = True) -> tuple[str, Payer]:  # type: ignore[no-untyped-def]
    """Booked through the chat at WEDNESDAY 10:00; with `checkout`, the page placed the WeChat Pay order."""
    ref, _ = book_nanta(app, openid)
    payer = Payer(app, fake_pay)
    if checkout:
        page = payer.checkout(ref)
        assert page.status_code == 200, page.get_data(as_text=True)
    return ref, payer


def _post(app, n: Notification, headers: dict[str, str] | None = None, body: bytes | None = None):  # type: ignore[no-untyped-def]
    return app.test_client().post("/pay/notify", data=n.body if body is None else body,
                                  headers=n.headers if headers is None else headers)


def _fill_the_slot(app) -> None:  # type: ignore[no-untyped-def]
    """Other travelers take every seat left of the show."""
    ext = _ext(app)
    nanta = ext.content.products.get("nanta_show")
    left = orders.remaining(ext.db, nanta, SHOW_DAY, SHOW_SLOT)
    assert left > 0
    orders.book(ext.db, orders.Order(openid="o-someone-else", product=nanta, day=SHOW_DAY, slot=SHOW_SLOT,
                                     adults=left, children=0, contact_name="李四", phone="+8613900000000",
                                     flow_key=orders.new_flow_key()), ext.clock.now())
    assert orders.remaining(ext.db, nanta, SHOW_DAY, SHOW_SLOT) == 0


def _pays_between_query_and_close(monkeypatch, app, fake_pay, ref: str) -> list[Notification]:  # type: ignore[no-untyped-def]
    """The race a late payment really comes from: the expiry sweep asks WeChat Pay (NOTPAY), the traveler's
    payment goes through right then, and the sweep's close is refused (ORDERPAID). The notification is
    returned in the list, not delivered."""
    pay = _ext(app).pay
    query = pay.query
    paid: list[Notification] = []

    def query_then_pay(out_trade_no: str) -> Any:
        tx = query(out_trade_no)
        if out_trade_no == ref and not paid:
            paid.append(fake_pay.pay(ref))
        return tx

    monkeypatch.setattr(pay, "query", query_then_pay)
    return paid


# --- 1. the happy path -----------------------------------------------------------------------------
def test_checkout_places_one_order_and_the_notification_pays_the_booking(app, fake_pay, fake_api, openid):
    ref, _ = book_nanta(app, openid)
    booking = _booking(app, ref)
    assert booking.status == "pending_payment" and _aware(booking.hold_until) == HOLD_END and not booking.prepay_id
    payer = Payer(app, fake_pay)
    status = app.test_client().get(_page_call(payer, ref, "status"))
    assert status.get_json() == {"status": "pending_payment"} and status.headers["Cache-Control"] == "no-store"

    first = payer.checkout(ref)
    assert first.status_code == 200 and first.headers["Cache-Control"] == "no-store"
    assert first.get_json()["simulated"] is False
    params = first.get_json()["params"]
    assert set(params) == {"appId", "timeStamp", "nonceStr", "package", "signType", "paySign"}
    assert params["appId"] == APPID and params["signType"] == "RSA" and params["package"].startswith("prepay_id=")
    signed = f"{params['appId']}\n{params['timeStamp']}\n{params['nonceStr']}\n{params['package']}\n".encode()
    merchant_public = crypto.load_public_key(merchant_keys()[1])
    assert crypto.verify(merchant_public, signed, params["paySign"])
    assert not crypto.verify(merchant_public, signed.replace(b"prepay_id=", b"prepay_id=x"), params["paySign"])

    again = payer.checkout(ref)  # the page reloaded: the same prepay_id, no second order
    assert again.status_code == 200 and again.get_json()["params"]["package"] == params["package"]
    placed = fake_pay.calls_to(JSAPI)
    assert len(placed) == 1 and placed[0].status == 200
    assert params["package"] == f"prepay_id={placed[0].response['prepay_id']}"
    order = placed[0].body
    assert order["out_trade_no"] == ref and order["trade_type"] == "JSAPI" and "乱打秀" in order["description"]
    assert order["amount"] == {"total": TOTAL, "currency": "KRW"}
    assert (order["sp_mchid"], order["sub_mchid"], order["sp_appid"]) == (MCHID, SUB_MCHID, APPID)
    assert order["payer"] == {"sp_openid": openid}
    assert order["notify_url"] == "https://yjy.example.com/pay/notify"
    assert datetime.fromisoformat(order["time_expire"]) == HOLD_END
    booking = _booking(app, ref)
    assert (booking.prepay_id, booking.pay_total, booking.pay_currency) == (
        placed[0].response["prepay_id"], TOTAL, "KRW")
    assert _aware(booking.prepaid_at) == WEDNESDAY

    n = fake_pay.pay(ref)
    answer = payer.notify(n)
    assert answer.status_code == 204 and answer.data == b""
    booking = _booking(app, ref)
    assert booking.status == "paid" and _aware(booking.paid_at) == WEDNESDAY and booking.hold_until is None
    assert booking.transaction_id == n.plaintext["transaction_id"] and booking.transaction_id.startswith("4200")
    assert _moves(app, ref) == [PAID]
    assert _notices(app, ref) == [("TRANSACTION.SUCCESS", "paid")]
    assert _taken(app) == 2
    assert app.test_client().get(_page_call(payer, ref, "status")).get_json() == {"status": "paid"}
    told = _told(fake_api, openid)
    assert len(told) == 1 and "支付成功" in told[0] and ref in told[0]


# --- 2. the same notification again --------------------------------------------------------------------
def test_a_repeated_notification_is_applied_and_told_once(app, fake_pay, fake_api, openid):
    ref, payer = _booked(app, fake_pay, openid)
    n = fake_pay.pay(ref)
    answers = [payer.notify(n).status_code for _ in range(7)]  # delivered, the same body again, WeChat's 5 retries
    assert answers == [204] * 7
    assert _booking(app, ref).status == "paid"
    assert _moves(app, ref) == [PAID]
    assert _notices(app, ref) == [("TRANSACTION.SUCCESS", "paid")]  # one row: the envelope id is the key
    assert len(_told(fake_api, openid)) == 1


# --- 3. forged and broken notifications ---------------------------------------------------------------
def test_forged_or_broken_notifications_are_refused_and_change_nothing(app, fake_pay, fake_api, openid):
    ref, payer = _booked(app, fake_pay, openid)
    genuine = fake_pay.pay(ref)  # paid at WeChat Pay; its notification is held back until the end
    tx = genuine.plaintext
    tampered = genuine.body.replace(b'"summary":"', b'"summary":"x', 1)  # still JSON that decrypts
    assert tampered != genuine.body
    cases: dict[str, tuple[Notification, int, str]] = {
        "another key": (fake_pay.notification("transaction", tx, sign_with=rsa.generate_private_key(65537, 2048)),
                        401, "does not verify"),
        "tampered": (Notification(genuine.url, genuine.headers, tampered, tx), 401, "does not verify"),
        "probe": (fake_pay.notification("transaction", tx, signature="WECHATPAY/SIGNTEST/" + "A" * 40),
                  401, "probe"),
        "unknown serial": (fake_pay.notification("transaction", tx, serial="PUB_KEY_ID_0199" + "9" * 24),
                           401, "unknown key"),
        "stale": (fake_pay.notification("transaction", tx, timestamp=int(time.time()) - 600), 401, "stale"),
        "another APIv3 key": (fake_pay.notification("transaction", tx, apiv3_key=b"0" * 32), 400, "decrypt"),
    }
    for name, (n, expected, why) in cases.items():
        answer = _post(app, n)
        assert answer.status_code == expected, (name, answer.get_data(as_text=True))
        body = answer.get_json()
        assert body["code"] == "FAIL" and why in body["message"], (name, body)
    unsigned = _post(app, genuine, headers={"Content-Type": "application/json"})
    assert unsigned.status_code == 401 and unsigned.get_json()["code"] == "FAIL"
    huge = _post(app, genuine, body=genuine.body + b" " * (64 * 1024))
    assert huge.status_code == 413 and huge.get_json() == {"code": "FAIL", "message": "notification too large"}
    # A chunked body, as gunicorn hands it on (decoded, no Content-Length): read no further than the limit.
    chunked = app.test_client().post("/pay/notify", headers={**genuine.headers, "Transfer-Encoding": "chunked"},
                                     input_stream=io.BytesIO(genuine.body + b" " * (64 * 1024)),
                                     environ_overrides={"wsgi.input_terminated": True})
    assert chunked.status_code == 413

    assert _booking(app, ref).status == "pending_payment" and _moves(app, ref) == []
    assert _notices(app, ref) == [] and _told(fake_api, openid) == []
    assert payer.notify(genuine).status_code == 204  # the real one still applies: it was refused for its forgery
    assert _moves(app, ref) == [PAID]


# --- 4. verified, but not right or not ours -----------------------------------------------------------
def test_verified_notifications_that_do_not_match_or_are_not_ours_are_not_applied(app, fake_pay, fake_api, openid):
    ref, payer = _booked(app, fake_pay, openid)
    genuine = fake_pay.pay(ref)
    tx = genuine.plaintext

    def signed(**changes: Any) -> Notification:  # validly signed and encrypted: only the content is wrong
        return fake_pay.notification("transaction", {**tx, **changes})

    for changes, why in [({"amount": {**tx["amount"], "total": TOTAL - 1000}}, "amount"),
                         ({"amount": {**tx["amount"], "currency": "CNY"}}, "amount"),
                         ({"sp_appid": "wx0000000000000000"}, "appid")]:
        answer = payer.notify(signed(**changes))
        assert answer.status_code == 400, changes
        assert answer.get_json()["code"] == "FAIL" and why in answer.get_json()["message"], changes
    assert _notices(app, ref) == []  # a mismatch is refused (WeChat retries, staff read the error), not taken

    # Another sub-merchant of our acquirer, or another acquirer: answered 204 so WeChat stops, and ignored.
    assert payer.notify(signed(sub_mchid="1900000999")).status_code == 204
    assert payer.notify(signed(sp_mchid="1900000999")).status_code == 204
    assert _notices(app, ref) == []
    # Not a payment (NOTPAY in a notification): taken, not applied.
    assert payer.notify(signed(trade_state="NOTPAY")).status_code == 204
    assert _notices(app, ref) == [("TRANSACTION.SUCCESS", "not_paid")]

    assert _booking(app, ref).status == "pending_payment" and _moves(app, ref) == []
    assert _told(fake_api, openid) == []
    assert payer.notify(genuine).status_code == 204 and _moves(app, ref) == [PAID]


# --- 5. late payments -------------------------------------------------------------------------------------
def test_the_sweep_expires_an_unpaid_hold_frees_the_seats_and_closes_the_order(app, fake_pay, openid):
    ref, payer = _booked(app, fake_pay, openid)
    ext = _ext(app)
    assert _taken(app) == 2
    assert ext.payments.sweep(HOLD_END - timedelta(seconds=1)).expired == []  # asked (NOTPAY), still held
    assert _booking(app, ref).status == "pending_payment" and fake_pay.calls_to(ORDER)[-1].status == 200

    report = ext.payments.sweep(_at(app, HOLD_END + timedelta(seconds=5)))
    assert (report.expired, report.closed, report.paid, report.errors) == ([ref], [ref], [], [])
    assert _booking(app, ref).status == "expired" and _taken(app) == 0
    assert _moves(app, ref) == [("pending_payment", "expired", "job:expire", "not paid in time")]
    closes = [c for c in fake_pay.calls_to(ORDER) if c.path.endswith("/close")]
    assert len(closes) == 1 and closes[0].status == 204
    assert closes[0].body == {"sp_mchid": MCHID, "sub_mchid": SUB_MCHID}
    assert fake_pay.orders[ref]["trade_state"] == "CLOSED"

    assert ext.payments.sweep(HOLD_END + timedelta(minutes=1)).expired == []  # nothing left to do
    late = payer.checkout(ref)
    assert late.status_code == 409 and late.get_json() == {"error": "not_payable", "status": "expired"}


def test_paid_just_before_the_hold_ended_with_the_notification_late_is_not_expired(app, fake_pay, openid):
    ref, payer = _booked(app, fake_pay, openid)
    n = fake_pay.pay(ref)  # paid in the last minutes; the notification is slow
    report = _ext(app).payments.sweep(_at(app, HOLD_END + timedelta(seconds=5)))
    assert (report.paid, report.expired, report.closed) == ([ref], [], [])
    assert _booking(app, ref).status == "paid" and _taken(app) == 2
    assert _moves(app, ref) == [("pending_payment", "paid", "job:reconcile", "paid")]
    assert not [c for c in fake_pay.calls_to(ORDER) if c.path.endswith("/close")]
    assert payer.notify(n).status_code == 204 and len(_moves(app, ref)) == 1
    assert _notices(app, ref) == [("TRANSACTION.SUCCESS", "already")]


def test_a_payment_after_the_hold_expired_takes_the_free_seats_again(app, fake_pay, fake_api, openid, monkeypatch):
    ref, payer = _booked(app, fake_pay, openid)
    paid = _pays_between_query_and_close(monkeypatch, app, fake_pay, ref)
    report = _ext(app).payments.sweep(_at(app, HOLD_END + timedelta(seconds=5)))
    assert (report.expired, report.closed) == ([ref], [])  # the close came too late
    closes = [c for c in fake_pay.calls_to(ORDER) if c.path.endswith("/close")]
    assert [(c.status, c.response["code"]) for c in closes] == [(400, "ORDERPAID")]
    assert _booking(app, ref).status == "expired" and _taken(app) == 0

    assert payer.notify(paid[0]).status_code == 204
    booking = _booking(app, ref)
    assert booking.status == "paid" and booking.transaction_id == paid[0].plaintext["transaction_id"]
    assert _taken(app) == 2
    assert _moves(app, ref)[1:] == [("expired", "paid", "wechatpay:notify", "late_payment")]
    assert _notices(app, ref) == [("TRANSACTION.SUCCESS", "late_paid")]
    assert _refunds(app, ref) == []
    told = _told(fake_api, openid)
    assert len(told) == 1 and "名额还在" in told[0] and ref in told[0]


def test_a_payment_after_the_hold_expired_and_the_seats_went_is_refunded(app, fake_pay, fake_api, openid, monkeypatch):
    ref, payer = _booked(app, fake_pay, openid)
    paid = _pays_between_query_and_close(monkeypatch, app, fake_pay, ref)
    assert _ext(app).payments.sweep(_at(app, HOLD_END + timedelta(seconds=5))).expired == [ref]
    _fill_the_slot(app)

    assert payer.notify(paid[0]).status_code == 204
    booking = _booking(app, ref)
    assert booking.status == "refunding" and booking.transaction_id == paid[0].plaintext["transaction_id"]
    assert _taken(app) == 100  # the seats stay with whoever took them
    assert _moves(app, ref)[1:] == [("expired", "refunding", "wechatpay:notify", "late_payment_no_seats")]
    assert _notices(app, ref) == [("TRANSACTION.SUCCESS", "refund_late")]
    [refund] = _refunds(app, ref)
    assert (refund.out_refund_no, refund.amount_krw, refund.pay_amount, refund.status) == (
        f"{ref}R1", TOTAL, TOTAL, "PROCESSING")  # sent by the follow-up job
    sent = fake_pay.refunds[f"{ref}R1"]
    assert sent["out_trade_no"] == ref and sent["request"]["amount"] == {"refund": TOTAL, "total": TOTAL,
                                                                         "currency": "KRW"}
    assert refund.refund_id == sent["refund_id"]
    told = _told(fake_api, openid)
    assert len(told) == 1 and "名额已经被订完" in told[0] and "退回" in told[0]

    assert payer.finish_refunds(ref)[0].status_code == 204
    assert _booking(app, ref).status == "refunded"
    assert len(_told(fake_api, openid)) == 2 and "退款已到账" in _told(fake_api, openid)[1]


# --- 6. paid after the traveler cancelled -------------------------------------------------------------
def test_a_payment_after_cancelling_the_unpaid_order_is_refunded(app, fake_pay, fake_api, openid):
    ref, payer = _booked(app, fake_pay, openid)
    n = fake_pay.pay(ref)  # paid on the open pay sheet as the traveler cancelled in the chat
    reply = WeChat(app).say(openid, f"取消订单 {ref}")["Content"]
    assert "已取消" in reply and "还没有付款" in reply
    assert payer.notify(n).status_code == 204
    assert _booking(app, ref).status == "refunding" and _taken(app) == 0
    # Whichever finds the payment first applies it: the notification, or the job closing the cancelled order
    # (the embedded queue runs that job inside the cancellation).
    (cancelled, refunding) = _moves(app, ref)
    assert cancelled == ("pending_payment", "cancelled", "traveler", "cancelled")
    assert refunding[:2] == ("cancelled", "refunding") and refunding[3] == "paid_after_cancel"
    assert refunding[2] in ("wechatpay:notify", "job:close")
    [refund] = _refunds(app, ref)
    assert (refund.out_refund_no, refund.pay_amount, refund.status) == (f"{ref}R1", TOTAL, "PROCESSING")
    assert fake_pay.refunds[f"{ref}R1"]["request"]["amount"]["refund"] == TOTAL
    told = _told(fake_api, openid)
    assert len(told) == 1 and "在付款前已取消" in told[0]


# --- 7. cancelling a paid order: the refund ---------------------------------------------------------------
def _paid_then_cancelled(app, fake_pay, openid: str) -> tuple[str, Payer]:  # type: ignore[no-untyped-def]
    ref, payer = _booked(app, fake_pay, openid)
    assert payer.notify(fake_pay.pay(ref)).status_code == 204
    reply = WeChat(app).say(openid, f"取消订单 {ref}")["Content"]
    assert "已取消" in reply and "退款 ₩110,000" in reply
    payer.run_jobs()  # the refund job (the embedded queue ran it in the handler already)
    return ref, payer


def test_cancelling_a_paid_order_in_time_refunds_it_once(app, fake_pay, fake_api, openid):
    ref, payer = _paid_then_cancelled(app, fake_pay, openid)
    assert _booking(app, ref).status == "refunding" and _taken(app) == 0
    assert _moves(app, ref)[1:] == [("paid", "refunding", "traveler", "cancelled")]
    asked = fake_pay.calls_to(REFUNDS)
    assert [c.status for c in asked] == [200]
    body = asked[0].body
    assert (body["out_trade_no"], body["out_refund_no"]) == (ref, f"{ref}R1")
    assert body["amount"] == {"refund": TOTAL, "total": TOTAL, "currency": "KRW"}
    assert (body["sp_mchid"], body["sub_mchid"]) == (MCHID, SUB_MCHID)
    assert body["notify_url"] == "https://yjy.example.com/pay/notify"
    [refund] = _refunds(app, ref)
    assert refund.status == "PROCESSING" and refund.refund_id == fake_pay.refunds[f"{ref}R1"]["refund_id"]

    n = fake_pay.finish_refund(f"{ref}R1")
    assert payer.notify(n).status_code == 204
    assert _booking(app, ref).status == "refunded"
    assert _moves(app, ref)[2:] == [("refunding", "refunded", "wechatpay:notify", "refund_success")]
    assert _refunds(app, ref)[0].status == "SUCCESS" and _refunds(app, ref)[0].finished_at is not None
    assert payer.notify(n).status_code == 204  # WeChat's retry
    assert len(_moves(app, ref)) == 3
    assert _notices(app, ref) == [("TRANSACTION.SUCCESS", "paid"), ("REFUND.SUCCESS", "refunded")]
    told = _told(fake_api, openid)
    assert len(told) == 2 and "退款已到账" in told[1]
    assert len(fake_pay.calls_to(REFUNDS)) == 1


def test_a_closed_refund_leaves_the_order_refunding_for_staff(app, fake_pay, fake_api, openid, caplog):
    ref, payer = _paid_then_cancelled(app, fake_pay, openid)
    caplog.set_level(logging.ERROR, logger="bot.bookings.payments")
    assert payer.notify(fake_pay.finish_refund(f"{ref}R1", "CLOSED")).status_code == 204
    [refund] = _refunds(app, ref)
    assert refund.status == "CLOSED" and refund.finished_at is not None
    assert _booking(app, ref).status == "refunding" and len(_moves(app, ref)) == 2
    errors = [r.getMessage() for r in caplog.records
              if r.name == "bot.bookings.payments" and r.levelno == logging.ERROR]
    assert any(f"{ref}R1" in m and "CLOSED" in m and "staff" in m for m in errors), errors
    assert len(_told(fake_api, openid)) == 1  # only "paid": nothing says the money is back


# --- 8. reconciliation ----------------------------------------------------------------------------------
def test_a_lost_notification_is_found_by_the_sweep(app, fake_pay, fake_api, openid):
    from bot import jobs

    ref, payer = _booked(app, fake_pay, openid)  # ordered at 10:00
    n = fake_pay.pay(ref)  # paid; the notification never comes
    assert _ext(app).payments.sweep(WEDNESDAY + timedelta(minutes=1)).paid == []
    assert fake_pay.calls_to(ORDER) == []  # too soon to ask

    _at(app, WEDNESDAY + timedelta(minutes=3))
    with app.app_context():
        assert jobs.payments_sweep().startswith("expired 0, paid 1")
    payer.run_jobs()
    booking = _booking(app, ref)
    assert booking.status == "paid" and booking.transaction_id == n.plaintext["transaction_id"]
    assert _moves(app, ref) == [("pending_payment", "paid", "job:reconcile", "paid")]
    [query] = fake_pay.calls_to(ORDER)
    assert query.method == "GET" and query.query == {"sp_mchid": MCHID, "sub_mchid": SUB_MCHID}
    told = _told(fake_api, openid)
    assert len(told) == 1 and "支付成功" in told[0]
    assert payer.notify(n).status_code == 204  # it arrives after all: nothing more
    assert len(_moves(app, ref)) == 1 and len(_told(fake_api, openid)) == 1


def test_a_failing_query_keeps_the_hold_until_the_next_sweep(app, fake_pay, openid):
    ref, _ = _booked(app, fake_pay, openid)
    fake_pay.fail(ORDER, status=500)
    report = _ext(app).payments.sweep(_at(app, HOLD_END + timedelta(seconds=5)))
    assert report.expired == [] and report.errors == [f"{ref}: SYSTEM_ERROR"]
    assert _booking(app, ref).status == "pending_payment" and _taken(app) == 2 and _moves(app, ref) == []
    assert not [c for c in fake_pay.calls_to(ORDER) if c.path.endswith("/close")]
    report = _ext(app).payments.sweep(HOLD_END + timedelta(minutes=1))
    assert (report.expired, report.closed, report.errors) == ([ref], [ref], [])


def test_a_lost_refund_notification_is_found_by_the_sweep(app, fake_pay, fake_api, openid):
    ref, payer = _paid_then_cancelled(app, fake_pay, openid)
    fake_pay.finish_refund(f"{ref}R1")  # done at WeChat Pay; the notification never comes
    assert _ext(app).payments.sweep(WEDNESDAY + timedelta(minutes=1)).refunds_done == []  # too soon to ask
    report = _ext(app).payments.sweep(WEDNESDAY + timedelta(minutes=3))
    assert report.refunds_done == [f"{ref}R1"] and report.errors == []
    assert _booking(app, ref).status == "refunded"
    assert _moves(app, ref)[2:] == [("refunding", "refunded", "job:reconcile", "refund_success")]


# --- 9. checkout refusals ------------------------------------------------------------------------------
def test_checkout_refusals(app, fake_pay, openid):
    ref, payer = _booked(app, fake_pay, openid, checkout=False)
    other, _ = book_nanta(app, "o-another-traveler-0000000001")
    client = app.test_client()
    own = dict(parse_qsl(payer.link(ref).partition("?")[2]))
    for query in [payer.link(other).partition("?")[2],  # someone else's link, on this reference
                  urlencode({**own, "t": "A" * len(own["t"])}), urlencode({k: v for k, v in own.items() if k != "t"})]:
        for action in ("pay", "status"):
            call = client.post if action == "pay" else client.get
            answer = call(_page_call(payer, ref, action, query))
            assert answer.status_code == 404 and answer.get_json() == {"error": "not_found"}, (action, query)
    assert client.post(_page_call(payer, ref, "pay").replace(ref, "YJ222222")).status_code == 404
    assert fake_pay.calls_to(JSAPI) == []

    fake_pay.fail(JSAPI, status=500)
    failed = payer.checkout(ref)
    assert failed.status_code == 502 and failed.get_json() == {"error": "pay_error", "retry": True}
    fake_pay.fail(JSAPI, status=400, code="PARAM_ERROR")
    assert payer.checkout(ref).get_json() == {"error": "pay_error", "retry": False}
    assert _booking(app, ref).prepay_id is None

    _at(app, HOLD_END)  # the hold is over (the sweep has not run yet)
    expired = payer.checkout(ref)
    assert expired.status_code == 409 and expired.get_json() == {"error": "not_payable", "status": "expired"}
    _at(app, HOLD_END - timedelta(minutes=1))
    assert payer.checkout(ref).status_code == 200
    assert payer.notify(fake_pay.pay(ref)).status_code == 204
    paid = payer.checkout(ref)
    assert paid.status_code == 409 and paid.get_json() == {"error": "not_payable", "status": "paid"}
    assert len(fake_pay.calls_to(JSAPI)) == 3  # two refused, one placed


def test_a_product_paid_on_site_is_confirmed_at_once_and_never_charged(app, fake_pay):
    ext = _ext(app)
    on_site = builders.product("pay_on_site", payment="on_site")
    in_wechat = builders.product("pay_wechat", payment="wechat")
    orders.sync_catalogue(ext.db, builders.catalogue(on_site, in_wechat), builders.NOW.date())
    _at(app, builders.NOW)
    site = orders.book(ext.db, builders.order("o-site", seats=2, p=on_site), builders.NOW)
    wx = orders.book(ext.db, builders.order("o-wechat", seats=2, p=in_wechat), builders.NOW)
    assert (site.status, site.payment, site.hold_until) == ("confirmed", "on_site", None)
    assert (wx.status, wx.payment) == ("pending_payment", "wechat")
    assert _aware(wx.hold_until) == builders.NOW + timedelta(minutes=15)

    refused = Payer(app, fake_pay).checkout(site.ref)
    assert refused.status_code == 409 and refused.get_json() == {"error": "not_payable", "status": "confirmed"}
    report = ext.payments.sweep(builders.NOW + timedelta(hours=1))
    assert report.expired == [wx.ref]  # never ordered at WeChat Pay: expired without asking it
    assert _booking(app, site.ref).status == "confirmed"
    assert fake_pay.calls == []


# --- 10. the database down while a notification comes ----------------------------------------------------
def _down_once(monkeypatch, payments, name: str) -> None:  # type: ignore[no-untyped-def]
    """`payments.<name>` raises a database error on its first call (a fault at the storage boundary)."""
    real = getattr(payments, name)
    calls = []

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE bookings", {}, Exception("server closed the connection"))
        return real(*args, **kwargs)

    monkeypatch.setattr(payments, name, flaky)


def test_a_database_error_answers_503_and_the_retry_applies_it(app, fake_pay, fake_api, openid, monkeypatch):
    ref, payer = _booked(app, fake_pay, openid)
    _down_once(monkeypatch, _ext(app).payments, "apply_transaction")
    n = fake_pay.pay(ref)
    down = payer.notify(n)
    assert down.status_code == 503 and down.get_json() == {"code": "FAIL", "message": "temporarily unavailable"}
    assert _booking(app, ref).status == "pending_payment" and _notices(app, ref) == []
    assert _told(fake_api, openid) == []
    assert payer.notify(n).status_code == 204  # WeChat's retry, the database back
    assert _booking(app, ref).status == "paid" and _moves(app, ref) == [PAID]
    assert _notices(app, ref) == [("TRANSACTION.SUCCESS", "paid")]
    assert len(_told(fake_api, openid)) == 1


def test_a_database_error_after_the_payment_was_applied_still_tells_the_traveler(
        app, fake_pay, fake_api, openid, monkeypatch):
    ref, payer = _booked(app, fake_pay, openid)
    _down_once(monkeypatch, _ext(app).payments, "take_notice")  # the payment is in, the audit row is not
    n = fake_pay.pay(ref)
    assert payer.notify(n).status_code == 503
    assert payer.notify(n).status_code == 204
    assert _booking(app, ref).status == "paid" and _moves(app, ref) == [PAID]
    assert len(_notices(app, ref)) == 1
    told = _told(fake_api, openid)
    assert len(told) == 1 and "支付成功" in told[0]
