"""Staff commands and admin API over orders (issue #15), on both back-ends: a day's orders with totals, an
order's history, manual refunds (rules, seats, Refund rows, the job that sends them to the fake WeChat Pay),
resent confirmations, group requests moving forward only; every call audited, phones masked in the API,
passport details nowhere."""
from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import select

from bot.bookings import lifecycle, passports
from bot.bookings import orders as bookings
from bot.bookings.lifecycle import Status
from bot.bookings.passports import Passport
from bot.infra.clock import SEOUL, Clock
from bot.infra.db.models import AdminAudit, Booking, BookingEvent, Refund, SlotInventory
from tests.support import Payer

TOKEN = "staff-token-0123456789abcdef"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=SEOUL)
DAY = date(2026, 12, 5)
PHONE, MASKED = "+8613812345678", "+86 138****5678"
REFUND_JOB = "bot.jobs.send_refunds"


@pytest.fixture
def admin(app_factory):  # type: ignore[no-untyped-def]
    app = app_factory(admin__tokens=[TOKEN], bookings__template_id="TPL-booking-1")
    app.extensions["yjy"].services.clock = Clock(NOW)
    return app


def call(app, method: str, path: str, token: str | None = TOKEN, **kwargs):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().open(f"/admin/api{path}", method=method, headers=headers, **kwargs)


def cli(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["bookings", *args])


def book(app, pid: str = "nanta_show", *, slot: str = "20:00", seats: int = 2, day: date = DAY,  # type: ignore[no-untyped-def]
         openid: str = "o-staff-1") -> Booking:
    ext = app.extensions["yjy"]
    product = ext.content.products.get(pid)
    assert product is not None, pid
    order = bookings.Order(openid=openid, product=product, day=day, slot=slot, adults=seats, children=0,
                           contact_name="张伟", phone=PHONE, flow_key=bookings.new_flow_key())
    return bookings.book(ext.db, order, ext.clock.now())


def move(app, ref: str, to: Status, actor: str = "wechatpay:notify", **values) -> Booking:  # type: ignore[no-untyped-def]
    """Move an order as the payment machinery would (paid: with the amount WeChat Pay took)."""
    ext = app.extensions["yjy"]
    booking = bookings.get(ext.db, ref)
    assert booking is not None
    if to is Status.PAID:
        values = {"paid_at": NOW, "pay_total": booking.total_krw, "pay_currency": "KRW", "hold_until": None,
                  "transaction_id": "4200000000001", **values}
    with ext.db.session() as s:
        assert lifecycle.move(s, booking, to, actor=actor, now=NOW, reason=to.value, **values)
    found = bookings.get(ext.db, ref)
    assert found is not None
    return found


def audit_rows(app) -> list[tuple[str, str, str, int]]:  # type: ignore[no-untyped-def]
    with app.extensions["yjy"].db.session() as s:
        return [(a.actor, a.method, a.path, a.status) for a in s.scalars(select(AdminAudit).order_by(AdminAudit.id))]


def taken(app, pid: str, slot: str, day: date = DAY) -> int:  # type: ignore[no-untyped-def]
    with app.extensions["yjy"].db.session() as s:
        row = s.get(SlotInventory, (pid, day, slot))
    return row.taken if row else 0


def refund_job_went(app, fake_pay) -> bool:  # type: ignore[no-untyped-def]
    """The send_refunds job waits in RQ (servers), or ran at once and asked the fake WeChat Pay (embedded)."""
    ext = app.extensions["yjy"]
    if ext.config.embedded_redis:
        return bool(fake_pay.calls_to("/v3/global/refunds"))
    return REFUND_JOB in [job.func_name for job in ext.queue.jobs]


# --- a day's orders -------------------------------------------------------------------------------------------
def test_a_days_orders_with_totals_per_status_in_the_cli_and_the_api(admin):
    pending = book(admin)
    paid = move(admin, book(admin, openid="o-staff-2").ref, Status.PAID)
    free = book(admin, "beauty_consultation", slot="11:00", seats=1)
    dmz = move(admin, book(admin, "dmz_tour", slot="07:30", seats=1).ref, Status.PAID)
    book(admin, day=date(2026, 12, 6))  # another day
    ext = admin.extensions["yjy"]
    assert passports.attach(ext.db, {"dmz_tour"}, "o-staff-1", Passport("ZHANG WEI", "E12345678", "CHN",
                                                                          date(1990, 1, 1)), NOW) is not None

    result = cli(admin, "orders", "2026-12-05", "--by", "mei")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split()[0] for line in lines[:4]] == sorted([free.ref]) + [dmz.ref] + sorted([pending.ref, paid.ref])
    (line,) = [x for x in lines if x.startswith(paid.ref)]
    assert line.split() == [paid.ref, "nanta_show", "20:00", "party", "2", "paid", "wechat", "110,000", "KRW", "paid",
                            "2026-11-25", "10:00"]
    (line,) = [x for x in lines if x.startswith(pending.ref)]
    assert line.split()[5:] == ["pending_payment", "wechat", "110,000", "KRW", "paid", "-"]
    assert "pending_payment: 1 order, 110,000 KRW" in result.output
    assert "paid: 2 orders, 180,000 KRW" in result.output and "confirmed: 1 order, 0 KRW" in result.output
    assert lines[-1] == "4 orders on 2026-12-05"
    assert "E12345678" not in result.output

    only = cli(admin, "orders", "2026-12-05", "--product", "nanta_show", "--status", "paid", "--by", "mei")
    assert only.exit_code == 0 and only.output.splitlines() == [
        only.output.splitlines()[0], "paid: 1 order, 110,000 KRW", "1 order on 2026-12-05"]
    assert only.output.startswith(paid.ref)
    unknown = cli(admin, "orders", "2026-12-05", "--product", "nanta", "--by", "mei")
    assert unknown.exit_code == 2 and "no product 'nanta'" in unknown.output
    assert cli(admin, "orders", "2026-12-05", "--status", "late").exit_code == 2  # click's choice

    listed = call(admin, "GET", "/orders?day=2026-12-05")
    assert listed.status_code == 200, listed.json
    body = listed.get_data(as_text=True)
    assert PHONE not in body and "13812345678" not in body and "E12345678" not in body and "ZHANG" not in body
    data = listed.json
    assert data["count"] == 4 and [o["ref"] for o in data["orders"]] == [free.ref, dmz.ref,
                                                                         *sorted([pending.ref, paid.ref])]
    assert data["totals"] == {"pending_payment": {"orders": 1, "krw": 110000}, "paid": {"orders": 2, "krw": 180000},
                              "confirmed": {"orders": 1, "krw": 0}}
    mine = next(o for o in data["orders"] if o["ref"] == paid.ref)
    assert mine["phone"] == MASKED and mine["party"] == 2 and mine["total_krw"] == 110000
    assert mine["status"] == "paid" and mine["payment"] == "wechat" and mine["paid_at"] == "2026-11-25T10:00:00+09:00"
    filtered = call(admin, "GET", "/orders?day=2026-12-05&product=nanta_show&status=pending_payment").json
    assert [o["ref"] for o in filtered["orders"]] == [pending.ref]

    assert call(admin, "GET", "/orders").json == {"error": "expected day=YYYY-MM-DD", "field": "day"}
    assert call(admin, "GET", "/orders?day=5.12.2026").status_code == 400
    bad_status = call(admin, "GET", "/orders?day=2026-12-05&status=late")
    assert bad_status.status_code == 400 and bad_status.json["field"] == "status"
    bad_product = call(admin, "GET", "/orders?day=2026-12-05&product=nope")
    assert bad_product.status_code == 400 and bad_product.json["field"] == "product"
    assert call(admin, "GET", "/orders?day=2026-12-05", token="wrong-token-0123456789").status_code == 401

    trail = audit_rows(admin)
    assert ("cli:mei", "CLI", "bookings orders 2026-12-05", 0) in trail
    assert ("cli:mei", "CLI", "bookings orders 2026-12-05 --product nanta_show --status paid", 0) in trail
    assert ("cli:mei", "CLI", "bookings orders 2026-12-05 --product nanta", 2) in trail
    reads = [t for t in trail if t[1] == "GET"]
    assert [(t[2], t[3]) for t in reads] == [("/admin/api/orders", 200), ("/admin/api/orders", 200),
                                             ("/admin/api/orders", 400), ("/admin/api/orders", 400),
                                             ("/admin/api/orders", 400), ("/admin/api/orders", 400)]
    assert all(t[0].startswith("token:") and TOKEN not in t[0] for t in reads)  # the refused token: not audited


def test_the_cli_knows_every_order_status():
    from bot.cli.bookings import ORDER_STATUSES

    assert [s.value for s in Status] == ORDER_STATUSES


# --- an order's history --------------------------------------------------------------------------------------
def test_an_orders_history_in_the_cli_and_the_api(admin):
    ref = book(admin).ref
    move(admin, ref, Status.PAID)
    assert cli(admin, "refund", ref, "--amount", "30000", "--reason", "演出取消", "--by", "mei").exit_code == 0

    shown = cli(admin, "show", ref.lower(), "--by", "kim")
    assert shown.exit_code == 0, shown.output
    out = shown.output
    assert out.startswith(f"{ref}  nanta_show") and f"contact 张伟 {PHONE}" in out  # staff see the number
    assert "status refunding  payment wechat  total 110,000 KRW" in out
    assert "(new) -> pending_payment  by traveler" in out
    assert "pending_payment -> paid  by wechatpay:notify  (paid)" in out
    assert "paid -> refunding  by staff:mei  (staff_refund)" in out and "'note': '演出取消'" in out
    assert "refunds: 1, 30,000 KRW" in out and f"{ref}R1  30,000 KRW" in out and "by staff:mei" in out

    got = call(admin, "GET", f"/orders/{ref}")
    assert got.status_code == 200 and PHONE not in got.get_data(as_text=True)
    data = got.json
    assert data["ref"] == ref and data["phone"] == MASKED and data["status"] == "refunding"
    assert [(e["from"], e["to"], e["actor"]) for e in data["events"]] == [
        (None, "pending_payment", "traveler"), ("pending_payment", "paid", "wechatpay:notify"),
        ("paid", "refunding", "staff:mei")]
    assert data["events"][2]["detail"] == {"amount_krw": 30000, "note": "演出取消"}
    assert data["events"][0]["at"] == "2026-11-25T10:00:00+09:00"
    assert data["refunded_krw"] == 30000 and data["refunds"][0]["out_refund_no"] == f"{ref}R1"
    assert data["refunds"][0]["reason"] == "演出取消" and data["refunds"][0]["requested_by"] == "staff:mei"

    missing = call(admin, "GET", "/orders/YJ2222222")
    assert missing.status_code == 404 and missing.json == {"error": "no order YJ2222222"}
    nothing = cli(admin, "show", "YJ2222222")
    assert nothing.exit_code == 1 and "no order YJ2222222" in nothing.output
    trail = audit_rows(admin)
    assert ("cli:kim", "CLI", f"bookings show {ref.lower()}", 0) in trail
    assert [(t[2], t[3]) for t in trail if t[1] == "GET"] == [(f"/admin/api/orders/{ref}", 200),
                                                             ("/admin/api/orders/YJ2222222", 404)]


# --- manual refunds ----------------------------------------------------------------------------------------
def test_only_paid_orders_are_refunded_and_never_more_than_was_paid(admin, fake_pay):
    pending = book(admin)
    free = book(admin, "beauty_consultation", slot="11:00", seats=1)
    paid = move(admin, book(admin, openid="o-3").ref, Status.PAID)
    before = taken(admin, "nanta_show", "20:00")
    assert before == 4

    def refund(ref: str, **body):  # type: ignore[no-untyped-def]
        return call(admin, "POST", f"/orders/{ref}/refund", json=body)

    no_pay = refund(pending.ref, reason="x")
    assert no_pay.status_code == 409 and no_pay.json["error"] == (
        f"{pending.ref} is pending_payment: nothing has been paid yet; only paid orders can be refunded")
    assert "not paid in WeChat" in refund(free.ref, reason="x").json["error"]
    cli_kept = cli(admin, "refund", pending.ref, "--reason", "客人投诉", "--by", "mei")
    assert cli_kept.exit_code == 1 and "nothing has been paid yet" in cli_kept.output
    assert refund("YJ2222222", reason="x").status_code == 404

    too_much = refund(paid.ref, reason="x", amount_krw=110001)
    assert too_much.status_code == 400 and too_much.json["field"] == "amount_krw"
    assert "110,001 KRW is more than the 110,000 KRW left" in too_much.json["error"]
    assert refund(paid.ref, reason="  ").json["field"] == "reason"
    assert refund(paid.ref).json["field"] == "reason"
    assert refund(paid.ref, reason="x" * 81).json["field"] == "reason"
    assert refund(paid.ref, reason="x", amount_krw=0).json["field"] == "amount_krw"
    assert refund(paid.ref, reason="x", amount_krw="5000").json["field"] == "amount_krw"
    assert refund(paid.ref, reason="x", amount_krw=True).json["field"] == "amount_krw"
    assert call(admin, "POST", f"/orders/{paid.ref}/refund", data="reason=x").status_code == 415
    over = cli(admin, "refund", paid.ref, "--amount", "200000", "--reason", "x", "--by", "mei")
    assert over.exit_code == 2 and "--amount" in over.output and "left to refund" in over.output
    with admin.extensions["yjy"].db.session() as s:
        assert s.scalars(select(Refund)).all() == []
    assert taken(admin, "nanta_show", "20:00") == before and not refund_job_went(admin, fake_pay)

    done = refund(paid.ref.lower(), reason="演出取消", amount_krw=50000)
    assert done.status_code == 202, done.json
    assert done.json["ref"] == paid.ref and done.json["status"] == "refunding" and done.json["queued"] is True
    assert done.json["refund"]["out_refund_no"] == f"{paid.ref}R1" and done.json["refund"]["amount_krw"] == 50000
    ext = admin.extensions["yjy"]
    with ext.db.session() as s:
        (row,) = s.scalars(select(Refund)).all()
        event = s.scalars(select(BookingEvent).where(BookingEvent.booking_ref == paid.ref)
                          .order_by(BookingEvent.id.desc())).first()
    assert (row.booking_ref, row.amount_krw, row.pay_amount, row.reason) == (paid.ref, 50000, 50000, "演出取消")
    assert row.requested_by.startswith("staff:token:") and TOKEN not in row.requested_by
    assert event is not None and (event.from_status, event.to_status, event.reason) == ("paid", "refunding",
                                                                                       "staff_refund")
    assert event.actor == row.requested_by
    assert taken(admin, "nanta_show", "20:00") == before - 2  # the seats are free again
    assert refund_job_went(admin, fake_pay)

    again = refund(paid.ref, reason="x")
    assert again.status_code == 409 and "its refund is already under way" in again.json["error"]

    trail = [(t[1], t[2], t[3]) for t in audit_rows(admin)]
    assert ("POST", f"/admin/api/orders/{paid.ref.lower()}/refund", 202) in trail
    assert ("POST", f"/admin/api/orders/{pending.ref}/refund", 409) in trail
    assert ("CLI", f"bookings refund {pending.ref} --reason 客人投诉", 1) in trail
    assert ("CLI", f"bookings refund {paid.ref} --amount 200000 --reason x", 2) in trail
    with ext.db.session() as s:
        detail = s.scalars(select(AdminAudit.detail).where(AdminAudit.status == 202)).one()
    assert detail == {"order": paid.ref, "refund": f"{paid.ref}R1", "amount_krw": 50000}


def test_a_staff_refund_goes_to_wechat_pay_and_ends_the_order_refunded(admin, fake_pay):
    ref = book(admin, openid="oRefundTraveler01").ref
    payer = Payer(admin, fake_pay)
    assert payer.pay(ref).status_code == 204
    ext = admin.extensions["yjy"]
    assert bookings.get(ext.db, ref).status == "paid"  # type: ignore[union-attr]

    result = cli(admin, "refund", ref, "--reason", "演出取消，全额退款", "--by", "mei")
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (f"{ref} is refunding: refund {ref}R1 of 110,000 KRW (110000 KRW through "
                                     "WeChat Pay) queued")
    assert refund_job_went(admin, fake_pay)
    payer.run_jobs()  # servers: the worker takes the job now
    sent = fake_pay.refunds[f"{ref}R1"]
    assert sent["status"] == "PROCESSING" and sent["refund"] == 110000
    assert sent["request"]["reason"] == "演出取消，全额退款"
    with ext.db.session() as s:
        assert s.get(Refund, f"{ref}R1").status == "PROCESSING"  # type: ignore[union-attr]

    assert [r.status_code for r in payer.finish_refunds(ref)] == [204]
    shown = call(admin, "GET", f"/orders/{ref}").json
    assert shown["status"] == "refunded" and shown["refunds"][0]["status"] == "SUCCESS"
    assert [e["to"] for e in shown["events"]] == ["pending_payment", "paid", "refunding", "refunded"]
    assert shown["events"][2]["actor"] == "staff:mei"
    assert ("cli:mei", "CLI", f"bookings refund {ref} --reason 演出取消，全额退款", 0) in audit_rows(admin)


def test_a_redeemed_order_is_refunded_in_part_and_stays_redeemed(admin, fake_pay, fake_api):
    """A complaint after the show: staff pay back part of it, then the rest; never more than was paid."""
    openid = "oRedeemedRefund01"
    ref = book(admin, openid=openid).ref
    payer = Payer(admin, fake_pay)
    assert payer.pay(ref).status_code == 204
    move(admin, ref, Status.REDEEMED, actor="staff:partner", redeemed_at=NOW)
    seats = taken(admin, "nanta_show", "20:00")

    first = call(admin, "POST", f"/orders/{ref}/refund", json={"reason": "座位被换到后排，退一半", "amount_krw": 55000})
    assert first.status_code == 202, first.json
    assert first.json["status"] == "redeemed" and first.json["refund"]["amount_krw"] == 55000
    payer.run_jobs()
    assert fake_pay.refunds[f"{ref}R1"]["refund"] == 55000
    fake_api.reset()
    assert [r.status_code for r in payer.finish_refunds(ref)] == [204]
    payer.run_jobs()
    told = [c.body["text"]["content"] for c in fake_api.calls_to("message/custom/send") if c.body["touser"] == openid]
    assert told and "退款已到账" in told[0]  # the traveler hears the money is back

    shown = call(admin, "GET", f"/orders/{ref}").json
    assert shown["status"] == "redeemed" and shown["refunded_krw"] == 55000
    assert [e["to"] for e in shown["events"]] == ["pending_payment", "paid", "redeemed"]
    assert taken(admin, "nanta_show", "20:00") == seats  # the show took place: no seat comes back

    over = call(admin, "POST", f"/orders/{ref}/refund", json={"reason": "x", "amount_krw": 55001})
    assert over.status_code == 400 and "55,001 KRW is more than the 55,000 KRW left" in over.json["error"]
    rest = cli(admin, "refund", ref, "--reason", "全额退款", "--by", "mei")
    assert rest.exit_code == 0, rest.output
    assert f"refund {ref}R2 of 55,000 KRW" in rest.output
    nothing = call(admin, "POST", f"/orders/{ref}/refund", json={"reason": "x"})
    assert nothing.status_code == 409 and "nothing left to refund" in nothing.json["error"]


def test_a_refund_through_the_api_with_a_named_token_is_by_that_staff_member(app_factory, fake_pay):
    app = app_factory(admin__tokens=[f"mei:{TOKEN}"])
    app.extensions["yjy"].services.clock = Clock(NOW)
    paid = move(app, book(app).ref, Status.PAID)
    done = call(app, "POST", f"/orders/{paid.ref}/refund", json={"reason": "演出取消"})
    assert done.status_code == 202, done.json
    with app.extensions["yjy"].db.session() as s:
        assert s.get(Refund, f"{paid.ref}R1").requested_by == "staff:mei"  # type: ignore[union-attr]


# --- resending the confirmation ----------------------------------------------------------------------------
def test_resend_queues_the_confirmation_of_paid_and_confirmed_orders(admin, fake_api):
    paid = move(admin, book(admin).ref, Status.PAID)
    free = book(admin, "beauty_consultation", slot="11:00", seats=1, openid="o-free")
    pending = book(admin, openid="o-pending")
    ext = admin.extensions["yjy"]

    sent = call(admin, "POST", f"/orders/{paid.ref}/resend")
    assert sent.status_code == 202 and sent.json == {"ref": paid.ref, "queued": True}
    result = cli(admin, "resend", free.ref, "--by", "mei")
    assert result.exit_code == 0 and result.output.strip() == f"confirmation of {free.ref} queued"
    if not ext.config.embedded_redis:  # servers: the jobs wait in RQ for the worker
        assert [j.func_name for j in ext.queue.jobs] == ["bot.jobs.send_booking_confirmation"] * 2
        from bot.infra.queue import BurstWorker

        with admin.app_context():
            BurstWorker([ext.queue], connection=ext.redis).work(burst=True)
    calls = fake_api.wait_for("message/template/send", count=2)
    assert sorted(c.body["touser"] for c in calls) == ["o-free", "o-staff-1"]
    assert all(c.body["template_id"] == "TPL-booking-1" for c in calls)

    refused = call(admin, "POST", f"/orders/{pending.ref}/resend")
    assert refused.status_code == 409 and refused.json["error"] == (
        f"{pending.ref} is pending_payment: only paid or confirmed orders get a confirmation")
    assert call(admin, "POST", "/orders/YJ2222222/resend").status_code == 404
    assert cli(admin, "resend", pending.ref, "--by", "mei").exit_code == 1
    assert len(fake_api.calls_to("message/template/send")) == 2
    trail = [(t[1], t[2], t[3]) for t in audit_rows(admin)]
    assert trail == [("POST", f"/admin/api/orders/{paid.ref}/resend", 202), ("CLI", f"bookings resend {free.ref}", 0),
                     ("POST", f"/admin/api/orders/{pending.ref}/resend", 409),
                     ("POST", "/admin/api/orders/YJ2222222/resend", 404), ("CLI", f"bookings resend {pending.ref}", 1)]


def test_resend_is_refused_without_a_confirmation_template(app_factory, fake_api):
    app = app_factory(admin__tokens=[TOKEN])  # bookings.template_id left empty
    app.extensions["yjy"].services.clock = Clock(NOW)
    paid = move(app, book(app).ref, Status.PAID)
    refused = call(app, "POST", f"/orders/{paid.ref}/resend")
    assert refused.status_code == 409 and "bookings.template_id" in refused.json["error"]
    result = cli(app, "resend", paid.ref, "--by", "mei")
    assert result.exit_code == 1 and "no confirmation template is configured" in result.output
    assert fake_api.calls_to("message/template/send") == []


# --- group requests ----------------------------------------------------------------------------------------
def test_group_requests_are_listed_and_move_forward_only(admin):
    ext = admin.extensions["yjy"]
    products = ext.content.products

    def group(openid: str, seats: int, when: datetime) -> str:
        order = bookings.Order(openid=openid, product=products.get("dmz_tour"), day=DAY,  # type: ignore[arg-type]
                               slot="07:30", adults=seats, children=0, contact_name="王芳", phone=PHONE,
                               flow_key=bookings.new_flow_key())
        return bookings.request_group(ext.db, order, when).ref

    first = group("o-g1", 12, NOW)
    second = group("o-g2", 20, datetime(2026, 11, 25, 11, 0, tzinfo=SEOUL))

    listed = cli(admin, "groups", "--by", "mei")
    assert listed.exit_code == 0, listed.output
    lines = listed.output.splitlines()
    assert lines[0].split()[0] == first and lines[1].split()[0] == second and lines[-1] == "2 group requests"
    assert f"dmz_tour             2026-12-05 07:30  party 12   王芳 {PHONE}  asked 2026-11-25 10:00  new" in lines[0]

    api = call(admin, "GET", "/group-requests?status=new")
    assert api.status_code == 200 and PHONE not in api.get_data(as_text=True)
    assert [(r["ref"], r["party"], r["phone"], r["status"]) for r in api.json] == [(first, 12, MASKED, "new"),
                                                                                 (second, 20, MASKED, "new")]
    assert api.json[0]["created_at"] == "2026-11-25T10:00:00+09:00"
    assert call(admin, "GET", "/group-requests?status=open").json["field"] == "status"

    contacted = call(admin, "POST", f"/group-requests/{first.lower()}", json={"status": "contacted"})
    assert contacted.status_code == 200 and contacted.json["status"] == "contacted" and contacted.json["changed"]
    twice = call(admin, "POST", f"/group-requests/{first}", json={"status": "contacted"})
    assert twice.status_code == 200 and twice.json["changed"] is False
    back = call(admin, "POST", f"/group-requests/{first}", json={"status": "new"})
    assert back.status_code == 400 and back.json["field"] == "status"
    assert call(admin, "POST", f"/group-requests/{first}", json={}).json["field"] == "status"
    assert call(admin, "POST", "/group-requests/GR2222222", json={"status": "closed"}).status_code == 404

    closed = cli(admin, "group-status", second, "closed", "--by", "mei")  # new -> closed directly
    assert closed.exit_code == 0 and closed.output.strip() == f"{second} is closed"
    refused = call(admin, "POST", f"/group-requests/{second}", json={"status": "contacted"})
    assert refused.status_code == 409 and refused.json["error"] == (
        f"{second} is closed already: a group request does not go back to contacted (new -> contacted -> closed)")
    backwards = cli(admin, "group-status", second, "contacted", "--by", "mei")
    assert backwards.exit_code == 1 and "does not go back to contacted" in backwards.output
    assert cli(admin, "group-status", first, "new").exit_code == 2  # click's choice
    assert cli(admin, "group-status", first, "closed", "--by", "kim").exit_code == 0

    assert cli(admin, "groups", "--status", "new", "--by", "mei").output.strip() == "0 group requests"
    statuses = {r["ref"]: r["status"] for r in call(admin, "GET", "/group-requests").json}
    assert statuses == {first: "closed", second: "closed"}

    trail = [(t[1], t[2], t[3]) for t in audit_rows(admin)]
    assert ("POST", f"/admin/api/group-requests/{first.lower()}", 200) in trail
    assert ("POST", f"/admin/api/group-requests/{second}", 409) in trail
    assert ("CLI", f"bookings group-status {second} closed", 0) in trail
    assert ("CLI", f"bookings group-status {second} contacted", 1) in trail
    assert ("GET", "/admin/api/group-requests", 200) in trail and ("CLI", "bookings groups", 0) in trail
    with ext.db.session() as s:
        detail = s.scalars(select(AdminAudit.detail).where(AdminAudit.path == f"/admin/api/group-requests/{first}",
                                                           AdminAudit.status == 200)).first()
    assert detail == {"group_request": first, "status": "contacted", "changed": False}
