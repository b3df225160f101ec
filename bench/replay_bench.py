"""How long `yijiyou replay` takes for 1,000 conversations in-process (target: under 30 s).

    .venv/bin/python bench/replay_bench.py                    # 1,000 conversations, safe mode
    .venv/bin/python bench/replay_bench.py --count 5000 --mode plain

The conversations are the shipped fixtures (tests/conversations/*.yaml), cycled until there are
`--count` of them; each runs as a new follower through the real webhook (signature, AES, dedup,
state, routing, handlers, templates) on the replay's embedded storage, exactly as `yijiyou replay`
runs them. It prints the set-up time, the replay time, turns per second and the slowest turns.
"""
from __future__ import annotations

import argparse
import itertools
import logging
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.devtools import conversations, replay


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--mode", choices=("plain", "compatible", "safe"), default="safe")
    args = parser.parse_args()

    fixtures = [c for path in sorted((ROOT / "tests" / "conversations").glob("*.yaml"))
                for c in conversations.load(path)]
    selected = [replace(c, name=f"{c.name}#{i}") for i, c in zip(range(args.count), itertools.cycle(fixtures))]

    logging.getLogger("bot").setLevel(logging.WARNING)
    t0 = time.perf_counter()
    app, close = replay.embedded_app(args.mode)
    setup = time.perf_counter() - t0
    try:
        t1 = time.perf_counter()
        results = replay.replay(selected, replay.InProcess.of(app))
        elapsed = time.perf_counter() - t1
    finally:
        close()

    turns = [t.seconds for r in results for t in r.turns]
    failed = [r for r in results if not r.passed]
    print(f"fixtures: {len(fixtures)} distinct conversations, cycled to {len(selected)} ({args.mode} mode)")
    print(f"set-up (app, content, migrations, catalogue): {setup:.2f} s")
    print(f"replay: {len(results)} conversations, {len(turns)} turns in {elapsed:.2f} s "
          f"= {len(turns) / elapsed:,.0f} turns/s, {elapsed / len(results) * 1000:.1f} ms per conversation")
    cuts = statistics.quantiles(turns, n=100)
    print(f"per turn: median {statistics.median(turns) * 1000:.2f} ms, p99 {cuts[98] * 1000:.2f} ms, "
          f"max {max(turns) * 1000:.1f} ms")
    print(f"failed conversations: {len(failed)}"
          + (" - " + ", ".join(sorted({r.conversation.name.split('#')[0] for r in failed})) if failed else ""))
    if failed:
        print("  (a booking fixture replayed hundreds of times fills its time slot: the bot then says so, as it must)")
    print(f"target: 1,000 conversations in under 30 s -> "
          f"{'met' if elapsed * 1000 / len(results) < 30 else 'NOT met'} "
          f"({elapsed * 1000 / len(results):.1f} s per 1,000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
