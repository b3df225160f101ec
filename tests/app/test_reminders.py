"""Template messages around a paid booking: the reminder the day before (once, across runs and workers; a
failure worth retrying is retried) and the refund notice. Keyword fields only, none over 20 characters."""
from __future__ import annotations

from datetime import datetime

from bot.infra.clock import SEOUL, Clock
from tests.app.test_booking_chat import book_nanta
from tests.support import Payer, WeChat

DAY_BEFORE = datetime(2026, 12, 4, 10, 0, tzinfo=SEOUL)  # book_nanta books the show of 12-05


def _run(app, job: str) -> str:  # type: ignore[no-untyped-def]
    import bot.jobs

    with app.app_context():
        return getattr(bot.jobs, job)()


def test_the_day_before_each_paid_booking_gets_one_reminder(app_factory, fake_api, fake_pay, openid):
    app = app_factory(bookings__reminder_template_id="TPL-reminder")
    paid, _ = book_nanta(app, openid)
    Payer(app, fake_pay).pay(paid)
    book_nanta(app, "o-unpaid-traveler")  # never paid: no reminder
    app.extensions["yjy"].services.clock = Clock(DAY_BEFORE)
    fake_api.fail("message/template/send", errcode=-1)  # WeChat busy: retried on the next run
    assert _run(app, "send_booking_reminders") == "reminders sent 0, to retry 1"
    assert _run(app, "send_booking_reminders") == "reminders sent 1, to retry 0"
    assert _run(app, "send_booking_reminders") == "reminders sent 0, to retry 0"
    sent = [c for c in fake_api.calls_to("message/template/send") if c.accepted]
    assert len(sent) == 1 and sent[0].body["touser"] == openid and sent[0].body["template_id"] == "TPL-reminder"
    data = sent[0].body["data"]
    assert data["keyword1"]["value"] == paid and data["keyword3"]["value"] == "2026-12-05 20:00"
    assert all(len(f["value"]) <= 20 for f in data.values()) and "first" not in data


def test_no_reminder_template_no_reminders(app, fake_api, fake_pay, openid):
    ref, _ = book_nanta(app, openid)
    Payer(app, fake_pay).pay(ref)
    app.extensions["yjy"].services.clock = Clock(DAY_BEFORE)
    assert _run(app, "send_booking_reminders") == "no reminder template configured"
    assert fake_api.calls_to("message/template/send") == []


def test_a_refund_paid_out_is_told_by_template_message(app_factory, fake_api, fake_pay, openid):
    app = app_factory(bookings__refund_template_id="TPL-refund")
    ref, _ = book_nanta(app, openid)
    payer = Payer(app, fake_pay)
    payer.pay(ref)
    assert "退款 ₩110,000" in WeChat(app).say(openid, f"取消订单 {ref}")["Content"]
    assert [r.status_code for r in payer.finish_refunds(ref)] == [204]
    sent = fake_api.wait_for("message/template/send")
    assert len(sent) == 1 and sent[0].body["template_id"] == "TPL-refund"
    assert sent[0].body["data"]["keyword3"]["value"] == "₩110,000"
