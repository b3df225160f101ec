"""Campaign coupons (`content/coupons.yaml`): claimed once per follower, spent by one booking.

A follower claims a coupon by typing its campaign word, or gets it on following through one of its
campaign QR codes. The booking summary applies the best valid coupon the follower holds.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

from sqlalchemy import select

from bot.infra import yamlfile
from bot.infra.db import Database
from bot.infra.db.models import CouponClaim
from bot.infra.text import normalize
from bot.travel.places import LANGS

KEYS = {"id", "name", "words", "qrscenes", "discount", "min_total_krw", "products", "valid"}


@dataclass(frozen=True)
class Coupon:
    id: str
    name: dict[str, str]
    words: frozenset[str]  # normalized
    qrscenes: frozenset[str]
    discount_krw: int  # a fixed amount, or
    percent: int  # a share of the price, capped at `max_krw` when set
    max_krw: int | None
    min_total_krw: int
    products: frozenset[str]  # empty: every product
    valid_from: date
    valid_until: date
    claim_word: str = ""  # the first word as written, to print in a campaign ("回复「首尔冬日」领取")

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.valid_until

    def discount(self, product_id: str, total_krw: int, today: date) -> int:
        """What this coupon takes off `total_krw` today (0 when it does not apply)."""
        if not self.valid_on(today) or total_krw < self.min_total_krw:
            return 0
        if self.products and product_id not in self.products:
            return 0
        amount = self.discount_krw or total_krw * self.percent // 100
        if self.max_krw is not None:
            amount = min(amount, self.max_krw)
        return min(amount, total_krw)


@dataclass
class Coupons:
    items: dict[str, Coupon]

    def by_word(self, text: str) -> Coupon | None:
        word = normalize(text)
        return next((c for c in self.items.values() if word in c.words), None)

    def by_scene(self, scene: str) -> list[Coupon]:
        return [c for c in self.items.values() if scene in c.qrscenes]


def load_coupons(path: Path, product_ids: set[str]) -> Coupons:
    doc = yamlfile.load(path)
    data = doc.data
    if not isinstance(data, dict) or not isinstance(data.get("coupons"), list):
        raise doc.error("coupons", "expected a list 'coupons:'")
    items: dict[str, Coupon] = {}
    for i, raw in enumerate(data["coupons"]):
        p = f"coupons.{i}"
        if not isinstance(raw, dict):
            raise doc.error(p, "each coupon must be a mapping")
        if unknown := set(raw) - KEYS:
            raise doc.error(f"{p}.{sorted(unknown)[0]}", f"unknown key; expected some of {', '.join(sorted(KEYS))}")
        cid = raw.get("id")
        if not isinstance(cid, str) or not cid or len(cid) > 40 or cid in items:
            raise doc.error(f"{p}.id", "expected a unique id of at most 40 characters")
        name = raw.get("name")
        if not isinstance(name, dict) or not all(isinstance(name.get(lang), str) for lang in LANGS):
            raise doc.error(f"{p}.name", f"expected texts for {', '.join(LANGS)}")
        discount = raw.get("discount")
        if not isinstance(discount, dict) or ("krw" in discount) == ("percent" in discount):
            raise doc.error(f"{p}.discount", "expected {krw: N} or {percent: N, max_krw: N}")
        krw, percent, cap = discount.get("krw", 0), discount.get("percent", 0), discount.get("max_krw")
        if not all(isinstance(v, int) and v >= 0 for v in (krw, percent)) or percent > 100 \
                or (cap is not None and (not isinstance(cap, int) or cap <= 0)):
            raise doc.error(f"{p}.discount", "amounts must be whole won, percent 1..100")
        products = raw.get("products") or []
        if not isinstance(products, list) or any(pid not in product_ids for pid in products):
            raise doc.error(f"{p}.products", "expected a list of product ids from products.yaml")
        valid = raw.get("valid")
        try:
            start, end = (v if isinstance(v, date) else date.fromisoformat(str(v))
                          for v in (valid["from"], valid["until"]))  # type: ignore[index]
        except (TypeError, KeyError, ValueError):
            raise doc.error(f"{p}.valid", "expected {from: YYYY-MM-DD, until: YYYY-MM-DD}") from None
        if end < start:
            raise doc.error(f"{p}.valid", "ends before it starts")
        words = [normalize(str(w)) for w in raw.get("words") or []]
        if "" in words:
            raise doc.error(f"{p}.words", "a word is empty once punctuation is removed")
        items[cid] = Coupon(
            id=cid, name={k: str(v) for k, v in name.items()}, words=frozenset(words),
            qrscenes=frozenset(str(s) for s in raw.get("qrscenes") or []), discount_krw=krw, percent=percent,
            max_krw=cap, min_total_krw=int(raw.get("min_total_krw") or 0), products=frozenset(products),
            valid_from=start, valid_until=end, claim_word=str((raw.get("words") or [""])[0]).strip())
    return Coupons(items)


# --- claims in the database -------------------------------------------------------------------------
def claim(db: Database, openid: str, coupon: Coupon, now: datetime | None = None) -> bool:
    """Give `coupon` to the follower; False if they already had it (claimed once, ever)."""
    now = now or datetime.now(UTC)
    stmt = db.insert(CouponClaim).values(openid=openid, coupon_id=coupon.id, claimed_at=now, used_ref=None)
    # RETURNING, not rowcount: psycopg reports -1 for an INSERT .. ON CONFLICT DO NOTHING.
    with db.session() as s:
        inserted = s.execute(stmt.on_conflict_do_nothing(index_elements=["openid", "coupon_id"])
                             .returning(CouponClaim.openid)).first()
    return inserted is not None


def unused(db: Database, openid: str) -> set[str]:
    with db.session() as s:
        return set(s.scalars(select(CouponClaim.coupon_id)
                             .where(CouponClaim.openid == openid, CouponClaim.used_ref.is_(None))))


def best(db: Database, coupons: Coupons, openid: str, product_id: str, total_krw: int,
         today: date) -> tuple[Coupon | None, int]:
    """The held, unused coupon that takes most off this booking today, and how much."""
    found: tuple[Coupon | None, int] = (None, 0)
    for cid in sorted(unused(db, openid)):
        coupon = coupons.items.get(cid)
        amount = coupon.discount(product_id, total_krw, today) if coupon else 0
        if amount > found[1]:
            found = (coupon, amount)
    return found
