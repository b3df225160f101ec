"""Test data: a complete config file, a product, a catalogue, an order, a database with only the catalogue, a coupon."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import text

from bot.bookings import orders as bookings
from bot.bookings.coupons import Coupon
from bot.infra.clock import SEOUL
from bot.infra.db import Database
from bot.travel.products import Catalogue, Product
from tests.support import AES_KEY

T = {"zh-CN": "x", "en": "x"}

NOW = datetime(2026, 11, 25, 10, 0, tzinfo=SEOUL)

DAY = date(2026, 12, 5)


def product(pid: str = "dmz_tour", **changes) -> Product:  # type: ignore[no-untyped-def]
    base = Product(id=pid, name={"zh-CN": f"测试{pid}", "en": pid}, aliases=(), category="tour", summary=T,
                   includes=T, meeting_point=T, duration=T, adult_krw=70000, child_krw=50000, capacity=5,
                   slots=("07:30", "12:30"), start="07:30", days=frozenset(range(7)), closed_dates=frozenset(),
                   lead_hours=24, max_party=None, free_cancel_hours=48, cancel_text=T, notes={}, attraction=None,
                   interests=(), source="test", line=1,
                   payment="on_site")  # seats and rules alone; tests/app/test_payments.py books payment: wechat
    return replace(base, **changes)


def catalogue(*products: Product) -> Catalogue:
    return Catalogue({p.id: p for p in products}, checked="", file="test")


# Booking data, children before parents: what a test that starts without bookings deletes.
BOOKING_TABLES = ("coupon_claims", "group_requests", "booking_travelers", "booking_events", "refunds",
                  "payment_notices", "bookings", "slot_inventory", "products")


def fresh_db(url: str, *products: Product) -> Database:
    """The schema at head with no booking data (the servers back-end shares one schema per test run)."""
    database = Database(url)
    database.upgrade()
    with database.session() as s:
        for table in (*BOOKING_TABLES, "follower_interests"):
            s.execute(text(f"DELETE FROM {table}"))
    bookings.sync_catalogue(database, catalogue(product(), *products), NOW.date())
    return database


def order(openid: str = "o-1", seats: int = 1, key: str | None = None, p: Product | None = None,
          slot: str = "07:30") -> bookings.Order:
    return bookings.Order(openid=openid, product=p or product(), day=DAY, slot=slot, adults=seats, children=0,
                          contact_name="张伟", phone="+8613812345678", flow_key=key or bookings.new_flow_key())


def coupon(cid: str = "winter", **changes) -> Coupon:  # type: ignore[no-untyped-def]
    base = Coupon(id=cid, name={"zh-CN": "冬日券", "en": "winter"}, words=frozenset({"首尔冬日"}),
                  qrscenes=frozenset({"campaign_x"}), discount_krw=10000, percent=0, max_krw=None,
                  min_total_krw=50000, products=frozenset(), valid_from=date(2026, 11, 1),
                  valid_until=date(2027, 2, 28))
    return replace(base, **changes)


GOOD_KEY = AES_KEY  # a valid EncodingAESKey

CONFIG_YAML = f"""\
public_base_url: https://bot.example.com
wechat:
  appid: wxabc
  appsecret: s3cr3t-value-xyz
  token: tok123456
  encoding_aes_key: {GOOD_KEY}
  api_base_url: https://api.weixin.qq.com
  mode: safe
webhook:
  timestamp_window_seconds: 300
  max_body_bytes: 65536
  reply_deadline_seconds: 4.0
  dedup_ttl_seconds: 300
  handler_threads: 4
state:
  ttl_seconds: 1800
followers:
  touch_every_seconds: 600
redis:
  url: redis://127.0.0.1:6379/0
  timeout_seconds: 0.5
database:
  url: postgresql://u@db/x
rates:
  ttl_seconds: 600
  timeout_seconds: 2
"""

