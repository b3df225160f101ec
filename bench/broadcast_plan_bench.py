"""Plan a broadcast to 1,000,000 followers in PostgreSQL: segment query + batches stored. Target < 60 s.

    .venv/bin/python bench/broadcast_plan_bench.py [--followers 1000000] [--database-url ...]

Works in a private schema that it drops afterwards. Seeding the followers (and this month's receipts:
one in ten followers already at the 4-a-month limit) is not timed.
"""
from __future__ import annotations

import argparse
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bot.broadcasts import planning as broadcasts
from bot.broadcasts.segments import parse_segment
from bot.infra.db import Database

TARGET_SECONDS = 60


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--followers", type=int, default=1_000_000)
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    args = p.parse_args()
    schema = f"yjy_bench_{uuid.uuid4().hex[:8]}"
    base = make_url(args.database_url).set(drivername="postgresql+psycopg")
    admin = create_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    db = Database(url)
    try:
        db.upgrade()
        now = datetime.now(UTC)
        started = time.monotonic()
        with db.engine.begin() as conn:  # one server-side statement: seeding is not what is measured
            conn.execute(text(
                "INSERT INTO followers (openid, subscribed, language, qrscene, tags, last_active_at, created_at) "
                "SELECT 'o' || lpad(g::text, 27, '0'), g % 50 <> 0, CASE WHEN g % 10 = 0 THEN 'en' ELSE 'zh-CN' END, "
                "CASE WHEN g % 3 = 0 THEN 'kol_1' END, '[]', :now - (g % 60) * interval '1 day', :now "
                "FROM generate_series(1, :n) g"), {"now": now, "n": args.followers})
            # A tenth already got their 4 broadcasts this month: planning must leave them out.
            conn.execute(text(
                "INSERT INTO mass_receipts (openid, month, received) "
                "SELECT 'o' || lpad(g::text, 27, '0'), :month, CASE WHEN g % 10 = 5 THEN 4 ELSE 2 END "
                "FROM generate_series(1, :n) g WHERE g % 5 = 0"),
                {"n": args.followers, "month": broadcasts.month_of(now)})
        print(f"seeded {args.followers:,} followers in {time.monotonic() - started:.1f} s (not timed)")
        for label, raw in (("every subscribed follower, by openid lists", {"active_days": 3650}),
                           ("zh-CN, active in 30 days", {"language": "zh-CN", "active_days": 30})):
            segment = parse_segment(raw)
            started = time.monotonic()
            plan = broadcasts.create(db, label, {"text": "bench"}, segment, "bench", now - timedelta(seconds=1))
            took = time.monotonic() - started
            print(f"{label}: {plan.audience:,} recipients in {plan.batches} batches "
                  f"({plan.skipped_monthly_limit:,} at the monthly limit skipped), planned in {took:.1f} s "
                  f"(target < {TARGET_SECONDS} s: {'MET' if took < TARGET_SECONDS else 'NOT MET'})")
    finally:
        db.dispose()
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
