"""Campaign coupons: the content file, the discount rules, claims once per follower, spent by one booking."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.bookings import coupons
from bot.bookings import orders as bookings
from bot.bookings.coupons import Coupons
from tests.builders import NOW, catalogue, coupon, fresh_db, order, product

TODAY = NOW.date()




def test_claim_once_spend_once_and_cancel_gives_it_back(backend):
    db = fresh_db(backend.database_url)
    c = coupon()
    assert coupons.claim(db, "o-1", c) is True
    assert coupons.claim(db, "o-1", c) is False  # once per follower
    held, amount = coupons.best(db, Coupons({"winter": c}), "o-1", "dmz_tour", 70000, TODAY)
    assert held is c and amount == 10000

    b = bookings.book(db, replace(order(), coupon_id="winter", discount_krw=10000), NOW)
    assert b.total_krw == 60000
    assert coupons.best(db, Coupons({"winter": c}), "o-1", "dmz_tour", 70000, TODAY) == (None, 0)
    with pytest.raises(bookings.CouponSpent):  # a second booking cannot spend it again
        bookings.book(db, replace(order(), coupon_id="winter", discount_krw=10000), NOW)
    assert bookings.remaining(db, product(), order().day, "07:30") == 4  # the failed one took no seat

    assert bookings.cancel(db, catalogue(product()), "o-1", b.ref, NOW).status == "cancelled"
    assert coupons.best(db, Coupons({"winter": c}), "o-1", "dmz_tour", 70000, TODAY)[1] == 10000
    db.dispose()
