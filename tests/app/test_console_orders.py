"""Orders in the operators' console (/admin/orders) through Flask's test client, on both back-ends: a day's
orders with totals per status and masked phones, the day picker and the reference search, bad parameters as
pages, an order's history, a refund in two steps reaching the fake WeChat Pay, refusals shown on the order page
with nothing stored, resent confirmations, the traveler's orders on an inbox item; every read and action audited
as staff:<name>; passport details on no page."""
from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy import select

from bot.bookings import orders as bookings
from bot.bookings import passports
from bot.bookings.lifecycle import Status
from bot.bookings.passports import Passport
from bot.infra.clock import Clock
from bot.infra.db.models import AdminAudit, HandoffRequest, Refund
from tests.app.test_console import MEI, TOKENS, body, csrf_of, logged_in
from tests.app.test_staff_orders import DAY, MASKED, NOW, PHONE, book, move, refund_job_went
from tests.support import Payer

PASSPORT = "E12345678"


@pytest.fixture
def shop(app_factory):  # type: ignore[no-untyped-def]
    app = app_factory(admin__tokens=TOKENS, bookings__template_id="TPL-booking-1")
    app.extensions["yjy"].services.clock = Clock(NOW)
    return app


def audit_rows(app: Any) -> list[tuple[str, str, str, int, dict[str, Any]]]:
    with app.extensions["yjy"].db.session() as s:
        return [(a.actor, a.method, a.path, a.status, a.detail)
                for a in s.scalars(select(AdminAudit).order_by(AdminAudit.id))]


def refunds(app: Any) -> list[Refund]:
    with app.extensions["yjy"].db.session() as s:
        return list(s.scalars(select(Refund).order_by(Refund.out_refund_no)))


def status_of(app: Any, ref: str) -> str:
    found = bookings.get(app.extensions["yjy"].db, ref)
    assert found is not None
    return found.status


def part(page: Any, testid: str) -> str:
    return body(page).split(f'data-testid="{testid}"')[1].split("</table>")[0]


# --- a day's orders -------------------------------------------------------------------------------------
def test_a_days_orders_with_totals_masked_phones_and_no_passport_details(shop):
    pending = book(shop)
    paid = move(shop, book(shop, openid="o-staff-2").ref, Status.PAID)
    free = book(shop, "beauty_consultation", slot="11:00", seats=1)
    dmz = move(shop, book(shop, "dmz_tour", slot="07:30", seats=1).ref, Status.PAID)
    book(shop, day=date(2026, 12, 6))  # another day
    ext = shop.extensions["yjy"]
    assert passports.attach(ext.db, {"dmz_tour"}, "o-staff-1", Passport("ZHANG WEI", PASSPORT, "CHN",
                                                                          date(1990, 1, 1)), NOW) is not None
    client = logged_in(shop)

    page = client.get(f"/admin/orders?day={DAY}")
    assert page.status_code == 200, body(page)[:500]
    listed = part(page, "orders")
    assert [ref for ref in (free.ref, dmz.ref, pending.ref, paid.ref) if f'data-testid="order-{ref}"' in listed] == [
        free.ref, dmz.ref, pending.ref, paid.ref]
    assert listed.index(free.ref) < listed.index(dmz.ref)  # by product, slot, reference, as the CLI lists them
    assert listed.count(MASKED) == 4 and "张伟" in listed and "110,000" in listed
    totals = part(page, "totals")
    assert "待支付</span></td><td class=\"n\">1</td><td class=\"n\">110,000" in totals
    assert "已支付</span></td><td class=\"n\">2</td><td class=\"n\">180,000" in totals
    assert "已确认</span></td><td class=\"n\">1</td><td class=\"n\">0" in totals
    assert '<th class="n">4</th><th class="n">290,000</th>' in totals
    assert 'href="/admin/orders?day=2026-12-04"' in body(page) and 'href="/admin/orders?day=2026-12-06"' in body(page)
    assert 'href="/admin/orders" data-testid="nav-orders" class="on"' in body(page)

    only = client.get(f"/admin/orders?day={DAY}&product=nanta_show&status=paid")
    assert only.status_code == 200 and f"order-{paid.ref}" in body(only) and f"order-{pending.ref}" not in body(only)
    today = client.get("/admin/orders")  # today in Seoul by default
    assert '<span class="muted" data-testid="day">2026-11-25</span>' in body(today)
    assert "这一天没有符合条件的订单" in body(today)
    english = logged_in(shop).get(f"/admin/orders?day={DAY}&lang=en")  # English is kept for that session
    assert "Totals per status" in body(english) and ">Orders</a>" in body(english)

    found = client.get(f"/admin/orders?ref=+{paid.ref.lower()}+")
    assert found.status_code == 303 and found.headers["Location"] == f"/admin/orders/{paid.ref}"
    for path, (status, words) in {"/admin/orders?ref=YJ2222222": (303, ""),
                                  "/admin/orders/YJ2222222": (404, "没有订单 YJ2222222"),
                                  "/admin/orders/yj2222222": (404, "没有订单 YJ2222222"),
                                  "/admin/orders?ref=../x": (404, "没有订单"),
                                  "/admin/orders?day=5.12.2026": (400, "YYYY-MM-DD"),
                                  "/admin/orders?day=2026-02-30": (400, "YYYY-MM-DD"),
                                  f"/admin/orders?day={DAY}&status=late": (400, "没有这种订单状态"),
                                  f"/admin/orders?day={DAY}&product=nope": (400, "没有产品 nope")}.items():
        response = client.get(path)
        assert (response.status_code, words in body(response)) == (status, True), (path, body(response)[-900:])
        assert "Traceback" not in body(response)

    shown = [page, only, english, client.get(f"/admin/orders/{dmz.ref}"), client.get(f"/admin/orders/{paid.ref}")]
    assert all(r.status_code == 200 for r in shown)
    for response in shown:  # staff see the masked phone, never the number or passport details
        text = body(response)
        assert PHONE not in text and "13812345678" not in text and PASSPORT not in text and "ZHANG" not in text
        assert "<script" not in text and '<meta name="viewport"' in text

    reads = [r for r in audit_rows(shop) if r[1] == "GET"]
    assert reads and {r[0] for r in reads} == {"staff:mei"}
    assert ("staff:mei", "GET", "/admin/orders", 200, {"day": "2026-12-05", "orders": 4}) in reads
    assert ("staff:mei", "GET", "/admin/orders", 200, {"day": "2026-12-05", "orders": 1, "product": "nanta_show",
                                                       "status": "paid"}) in reads
    assert ("staff:mei", "GET", f"/admin/orders/{dmz.ref}", 200, {"order": dmz.ref}) in reads
    assert ("staff:mei", "GET", "/admin/orders/yj2222222", 404, {"order": "YJ2222222"}) in reads


# --- one order: history and a refund in two steps -----------------------------------------------------------
def test_a_paid_order_is_refunded_in_two_steps_and_reaches_wechat_pay(shop, fake_pay):
    ref = book(shop, openid="oRefundConsole01").ref
    payer = Payer(shop, fake_pay)
    assert payer.pay(ref).status_code == 204
    client = logged_in(shop)

    page = client.get(f"/admin/orders/{ref.lower()}")
    assert page.status_code == 200, body(page)[:500]
    history = part(page, "history")
    assert "待支付 → 已支付" in history and "wechatpay:notify" in history and "traveler" in history
    assert '<dd data-testid="left">110,000 KRW</dd>' in body(page) and 'id="resend"' in body(page)
    assert 'name="amount" value="110000"' in body(page) and "还没有退款" in body(page)

    asked = client.post(f"/admin/orders/{ref}/refund", data={"csrf": csrf_of(page), "amount": "",
                                                             "reason": "  演出取消， 全额退款 "})
    assert asked.status_code == 200, body(asked)[:800]
    assert f"将订单 {ref} 的 110,000 韩元退给旅客？" in body(asked) and "演出取消， 全额退款" in body(asked)
    assert 'name="amount" value="110000"' in body(asked) and 'name="confirm" value="1"' in body(asked)
    assert 'name="seen" value="0"' in body(asked)  # the refunds it had: a confirmation posted twice refunds once
    assert refunds(shop) == [] and status_of(shop, ref) == "paid" and not refund_job_went(shop, fake_pay)

    done = client.post(f"/admin/orders/{ref}/refund", data={"csrf": csrf_of(asked), "amount": "110000",
                                                            "reason": "演出取消， 全额退款", "seen": "0",
                                                            "confirm": "1"})
    assert done.status_code == 303 and done.headers["Location"] == f"/admin/orders/{ref}?done=refunded"
    (row,) = refunds(shop)
    assert (row.out_refund_no, row.amount_krw, row.reason, row.requested_by) == (f"{ref}R1", 110000,
                                                                                 "演出取消， 全额退款", "staff:mei")
    assert status_of(shop, ref) == "refunding" and refund_job_went(shop, fake_pay)
    payer.run_jobs()  # servers: the worker takes the job now
    assert fake_pay.refunds[f"{ref}R1"]["refund"] == 110000
    assert fake_pay.refunds[f"{ref}R1"]["request"]["reason"] == "演出取消， 全额退款"

    after = client.get(done.headers["Location"])
    assert "退款已提交" in body(after) and '<span class="pill assigned" data-testid="status">退款中</span>' in body(after)
    assert "已支付 → 退款中" in part(after, "history") and "staff:mei" in part(after, "history")
    listed = part(after, "refunds")
    assert f"{ref}R1" in listed and "110,000" in listed and "staff:mei" in listed and "演出取消" in listed
    assert '<dd data-testid="refunded">110,000 KRW</dd>' in body(after) and 'data-testid="no-refund"' in body(after)
    again = client.post(f"/admin/orders/{ref}/refund", data={"csrf": csrf_of(after), "amount": "1", "reason": "x",
                                                             "confirm": "1"})
    assert again.status_code == 409 and "这个订单退款中，不能退款" in body(again)
    assert len(refunds(shop)) == 1

    posts = [(r[0], r[2], r[3], r[4]) for r in audit_rows(shop) if r[1] == "POST"][1:]  # after the login
    assert posts[0] == ("staff:mei", f"/admin/orders/{ref}/refund", 200,
                        {"order": ref, "amount_krw": 110000, "step": "confirmation"})
    assert posts[1] == ("staff:mei", f"/admin/orders/{ref}/refund", 303,
                        {"order": ref, "refund": f"{ref}R1", "amount_krw": 110000, "queued": True})
    assert posts[2][2] == 409 and posts[2][3]["refused"].startswith("这个订单退款中")


# --- refusals ----------------------------------------------------------------------------------------------
def test_refusals_are_shown_on_the_order_page_and_store_nothing(shop, fake_api):
    paid = move(shop, book(shop).ref, Status.PAID)
    pending = book(shop, openid="o-pending")
    client = logged_in(shop)
    page = client.get(f"/admin/orders/{paid.ref}")

    def refund(ref: str, **form: str) -> Any:
        return client.post(f"/admin/orders/{ref}/refund", data={"csrf": csrf_of(page), **form})

    for form, (status, words) in {
            ("110001", "演出取消", "1"): (400, "退款金额 110,001 韩元超过了可退余额 110,000 韩元"),
            ("110001", "演出取消", ""): (400, "超过了可退余额"),
            ("5万", "演出取消", ""): (400, "退款金额应为 1 以上的整数"),
            ("0", "演出取消", "1"): (400, "退款金额应为 1 以上的整数"),
            ("50000", "   ", ""): (400, "请填写退款原因"),
            ("50000", "退" * 81, "1"): (400, "退款原因有 81 个字，微信支付最多接受 80 个")}.items():
        amount, reason, confirm = form
        refused = refund(paid.ref, amount=amount, reason=reason, seen="0", confirm=confirm)
        assert (refused.status_code, words in body(refused)) == (status, True), (form, body(refused)[:800])
        assert 'data-testid="error"' in body(refused) and f'name="amount" value="{amount}"' in body(refused)
    kept = refund(paid.ref, amount="110001", reason="座位问题", seen="0", confirm="1")
    assert 'name="reason" value="座位问题"' in body(kept)  # what was typed stays in the form
    not_paid = refund(pending.ref, amount="1000", reason="x", confirm="1")
    assert not_paid.status_code == 409 and "这个订单待支付，不能退款" in body(not_paid)
    forged = client.post(f"/admin/orders/{paid.ref}/refund", data={"csrf": "forged", "amount": "1000",
                                                                   "reason": "x", "confirm": "1"})
    assert forged.status_code == 403 and "安全校验未通过" in body(forged)
    assert client.post(f"/admin/orders/{paid.ref}/refund", data={"amount": "1000", "reason": "x",
                                                                 "confirm": "1"}).status_code == 403
    missing = refund("YJ2222222", amount="1000", reason="x", confirm="1")
    assert missing.status_code == 404 and "没有订单 YJ2222222" in body(missing)
    assert refunds(shop) == [] and status_of(shop, paid.ref) == "paid" and status_of(shop, pending.ref) == "pending_payment"

    # resend the confirmation: paid and confirmed orders only
    sent = client.post(f"/admin/orders/{paid.ref}/resend", data={"csrf": csrf_of(page)})
    assert sent.status_code == 303 and sent.headers["Location"] == f"/admin/orders/{paid.ref}?done=resent"
    assert "确认通知已重新排队发送" in body(client.get(sent.headers["Location"]))
    ext = shop.extensions["yjy"]
    if not ext.config.embedded_redis:  # servers: the job waits in RQ for the worker
        assert [j.func_name for j in ext.queue.jobs] == ["bot.jobs.send_booking_confirmation"]
        Payer(shop, None).run_jobs()
    (call,) = fake_api.wait_for("message/template/send", count=1)
    assert call.body["touser"] == "o-staff-1" and call.body["template_id"] == "TPL-booking-1"
    refused = client.post(f"/admin/orders/{pending.ref}/resend", data={"csrf": csrf_of(page)})
    assert refused.status_code == 409 and "only paid or confirmed orders get a confirmation" in body(refused)
    assert 'id="resend"' not in body(refused)  # the page shows no resend button for such an order

    # a redeemed order (a complaint after the show), 60,000 KRW of it refunded before: part of the rest, once
    redeemed = move(shop, move(shop, book(shop, openid="o-redeemed").ref, Status.PAID).ref, Status.REDEEMED,
                    actor="staff:partner", redeemed_at=NOW)
    with shop.extensions["yjy"].db.session() as s:
        s.add(Refund(out_refund_no=f"{redeemed.ref}R1", booking_ref=redeemed.ref, amount_krw=60000, pay_amount=60000,
                     status="SUCCESS", reason="座位问题", requested_by="staff:jun", created_at=NOW))
    shown = client.get(f"/admin/orders/{redeemed.ref}")
    assert '<dd data-testid="left">50,000 KRW</dd>' in body(shown) and 'name="amount" value="50000"' in body(shown)
    confirm = {"amount": "30,000", "reason": "演出中途停止", "seen": "1", "confirm": "1"}
    assert refund(redeemed.ref, **confirm).status_code == 303
    twice = refund(redeemed.ref, **confirm)  # the confirmation posted again (a double click): refunded once
    assert twice.status_code == 409 and "确认之后这个订单又有了退款" in body(twice)
    assert '<dd data-testid="left">20,000 KRW</dd>' in body(twice)
    over = refund(redeemed.ref, **{**confirm, "amount": "20001", "seen": "2"})
    assert over.status_code == 400 and "超过了可退余额 20,000 韩元" in body(over)
    assert [(r.amount_krw, r.requested_by) for r in refunds(shop)] == [(60000, "staff:jun"), (30000, "staff:mei")]
    assert status_of(shop, redeemed.ref) == "redeemed"
    with shop.extensions["yjy"].db.session() as s:
        s.add(Refund(out_refund_no=f"{redeemed.ref}R3", booking_ref=redeemed.ref, amount_krw=20000, pay_amount=20000,
                     status="SUCCESS", reason="余款", requested_by="staff:jun", created_at=NOW))
    nothing = refund(redeemed.ref, amount="", reason="x")
    assert nothing.status_code == 409 and "已经全部退款（实付 110,000 韩元）" in body(nothing)
    assert 'data-testid="no-refund"' in body(nothing) and len(refunds(shop)) == 3

    posts = [r for r in audit_rows(shop) if r[1] == "POST"][1:]
    assert {r[0] for r in posts} == {"staff:mei"}
    assert [r[3] for r in posts] == [400] * 7 + [409, 403, 403, 404, 303, 409, 303, 409, 400, 409]
    assert posts[8][4] == {"refused": "csrf"} and posts[11][4] == {"order": paid.ref}
    assert posts[13][4] == {"order": redeemed.ref, "refund": f"{redeemed.ref}R2", "amount_krw": 30000, "queued": True}
    assert posts[0][4]["refused"].startswith("退款金额 110,001 韩元超过了可退余额")


# --- the inbox ---------------------------------------------------------------------------------------------
def test_an_inbox_item_lists_the_travelers_latest_orders(shop):
    traveler = "oComplainer0001"
    refs = [book(shop, seats=1, openid=traveler, day=date(2026, 12, d)).ref for d in (5, 6, 7, 8, 9, 10)]
    move(shop, refs[-1], Status.PAID)
    other = book(shop, openid="oSomeoneElse01").ref
    with shop.extensions["yjy"].db.session() as s:
        s.add(HandoffRequest(openid=traveler, kind="complaint", status="open", text="演出被取消了", created_at=NOW))
    with shop.extensions["yjy"].db.session() as s:
        item = f"H{s.scalar(select(HandoffRequest.id))}"
    client = logged_in(shop, MEI)

    page = client.get(f"/admin/inbox/{item}")
    assert page.status_code == 200, body(page)[:500]
    listed = part(page, "traveler-orders")
    shown = [ref for ref in reversed(refs) if f'href="/admin/orders/{ref}"' in listed]
    assert shown == list(reversed(refs))[:5]  # the latest five, newest first
    assert [listed.index(ref) for ref in shown] == sorted(listed.index(ref) for ref in shown)
    assert refs[0] not in listed and other not in listed
    assert "2026-12-10 20:00" in listed and "已支付" in listed and "待支付" in listed
    assert client.get(f"/admin/orders/{refs[-1]}").status_code == 200
    assert ("staff:mei", "GET", f"/admin/inbox/{item}", 200, {"item": item, "orders": 5}) in audit_rows(shop)

    with shop.extensions["yjy"].db.session() as s:
        s.add(HandoffRequest(openid="oNoOrders00001", kind="handoff", status="open", text="转人工", created_at=NOW))
    with shop.extensions["yjy"].db.session() as s:
        lonely = f"H{max(s.scalars(select(HandoffRequest.id)))}"
    assert "这位旅客还没有订单" in body(client.get(f"/admin/inbox/{lonely}"))
