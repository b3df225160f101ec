"""What keeps payments honest without a notification: the sweep from the command line (cron), the sweep every
worker queues from its maintenance pass (once per minute across workers), the dev runner's simulated payment."""
from __future__ import annotations

from datetime import datetime

import pytest

from bot.bookings import orders
from bot.devtools import pay_setup
from bot.infra.clock import SEOUL, Clock
from bot.infra.queue import PAYMENTS_SWEEP_JOB, PERIODIC, REMINDERS_JOB, Worker, make_queue
from tests.app.test_booking_chat import book_nanta
from tests.support import Payer, WeChat

AFTER_THE_HOLD = datetime(2026, 11, 25, 10, 16, tzinfo=SEOUL)  # book_nanta books at 10:00, held 15 minutes


def test_the_sweep_command_expires_an_unpaid_hold_and_frees_its_seats(app, fake_pay, openid):
    ref, _ = book_nanta(app, openid)
    ext = app.extensions["yjy"]
    Payer(app, fake_pay).checkout(ref)  # the page placed the WeChat Pay order; nobody paid
    booking = orders.get(ext.db, ref)
    product = ext.content.products.get("nanta_show")
    left = orders.remaining(ext.db, product, booking.day, booking.slot)
    ext.services.clock = Clock(AFTER_THE_HOLD)
    result = app.test_cli_runner().invoke(args=["payments", "sweep", "--by", "cron"])
    assert result.exit_code == 0, result.output
    assert f"expired: 1  {ref}" in result.output and f"closed at WeChat Pay: 1  {ref}" in result.output
    assert orders.get(ext.db, ref).status == "expired"
    assert orders.remaining(ext.db, product, booking.day, booking.slot) == left + 2
    assert fake_pay.orders[ref]["trade_state"] == "CLOSED"
    again = app.test_cli_runner().invoke(args=["payments", "sweep", "--by", "cron"])
    assert "expired: 0" in again.output  # a second run changes nothing


@pytest.mark.servers
def test_workers_queue_one_sweep_a_minute_between_them(real_redis):
    queue = make_queue(real_redis, "yjy-periodic-test", run_inline=False)
    workers = [Worker([queue], connection=real_redis) for _ in range(3)]
    for worker in workers * 2:  # three workers, two maintenance passes each, within the minute
        worker.run_maintenance_tasks()
    every = [job for job, _ in PERIODIC]
    assert PAYMENTS_SWEEP_JOB in every and REMINDERS_JOB in every
    assert [job.func_name for job in queue.get_jobs()] == every  # once each, whatever the number of workers
    real_redis.delete(f"rq:periodic:{queue.name}:{PAYMENTS_SWEEP_JOB}")  # the minute is over, not the hour
    workers[0].run_maintenance_tasks()
    assert [job.func_name for job in queue.get_jobs()] == [*every, PAYMENTS_SWEEP_JOB]


def test_the_dev_runners_simulated_payment_needs_the_pages_link(app_factory, fake_pay, openid):
    app = app_factory()
    pay_setup.init_app(app, fake_pay, sweep_seconds=None)
    ref, url = book_nanta(app, openid)
    client = app.test_client()
    path, _, query = url.removeprefix(app.extensions["yjy"].config.public_base_url).partition("?")
    assert client.post(f"{path}/pay?{query}").status_code == 200
    assert client.post(f"/dev/pay/{ref}?e=20261212&t=forged").status_code == 404
    assert fake_pay.orders[ref]["trade_state"] == "NOTPAY"
    assert client.post(f"/dev/pay/{ref}?{query}").status_code == 200
    assert fake_pay.orders[ref]["trade_state"] == "SUCCESS"
    assert client.post(f"/dev/pay/{ref}?{query}").status_code == 409  # paid already


def test_cancelling_an_unpaid_order_closes_it_at_wechat_pay(app, fake_pay, openid):
    ref, _ = book_nanta(app, openid)
    payer = Payer(app, fake_pay)
    payer.checkout(ref)
    assert "不会扣款" in WeChat(app).say(openid, f"取消订单 {ref}")["Content"]
    payer.run_jobs()
    assert fake_pay.orders[ref]["trade_state"] == "CLOSED"  # the traveler can no longer pay it


def test_a_payment_that_slipped_in_before_the_cancellation_is_refunded(app, fake_api, fake_pay, openid):
    ref, _ = book_nanta(app, openid)
    payer = Payer(app, fake_pay)
    payer.checkout(ref)
    fake_pay.pay(ref)  # paid, but its notification is still on its way
    WeChat(app).say(openid, f"取消订单 {ref}")
    payer.run_jobs()
    assert orders.get(app.extensions["yjy"].db, ref).status == "refunding"
    assert [r["out_trade_no"] for r in fake_pay.refunds.values()] == [ref]
    told = [c.body["text"]["content"] for c in fake_api.calls_to("message/custom/send")]
    assert any("付款前已取消" in t for t in told)
