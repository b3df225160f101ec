"""Where a worker's time went, from py-spy's collapsed stacks (`webhook_bench.py --py-spy DIR`).

    .venv/bin/python bench/stacks.py DIR/safe-*.txt [--match bot/ handlers/] [--top 30]

Prints the share of samples per function, inclusive (the function or anything it called) and self (the
function itself), over every thread. Idle samples (a thread waiting in a lock, select or accept) are
counted apart, so the shares are of the time spent running or waiting on a socket.
"""
from __future__ import annotations

import argparse
import re
import sys
from collections import Counter
from pathlib import Path

# A frame as py-spy writes it: "function (path/to/file.py:123)".
FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?):?(?P<line>\d*)\)$")
# Where a thread waits for work or a lock (not for a server's answer): not counted as busy.
IDLE = ("acquire (", "wait (threading", "_worker (thread", "select (", "accept (", "sleep (", "poll (")


def frame_name(frame: str) -> str:
    """`function (file)` without the line: lines of one function add up."""
    m = FRAME.match(frame)
    if not m:
        return frame
    file = m["file"]
    for marker in ("site-packages/", "lib/python3", "/work/", "/main/"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{m['func']} ({file})"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("files", nargs="+", type=Path)
    p.add_argument("--match", nargs="*", default=[], help="only functions whose file contains one of these")
    p.add_argument("--top", type=int, default=40)
    args = p.parse_args()
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = idle = 0
    for path in args.files:
        for line in path.read_text(errors="replace").splitlines():
            stack, _, count = line.rpartition(" ")
            if not stack or not count.isdigit():
                continue
            frames = stack.split(";")
            n = int(count)
            m = FRAME.match(frames[-1])
            last = f"{m['func'].rsplit('.', 1)[-1]} ({m['file'].rsplit('/', 1)[-1]}" if m else frames[-1]
            if any(last.startswith(i) for i in IDLE) and "redis" not in frames[-2] and "psycopg" not in stack:
                idle += n
                continue
            total += n
            names = [frame_name(f) for f in frames[1:]]  # the first is the thread
            for name in set(names):
                inclusive[name] += n
            own[names[-1]] += n
    print(f"{total:,} busy samples ({idle:,} idle samples not counted) in {len(args.files)} files")
    keep = [name for name in inclusive if not args.match or any(m in name for m in args.match)]
    print(f"\n{'inclusive':>9} {'self':>6}  function")
    for name in sorted(keep, key=lambda k: -inclusive[k])[:args.top]:
        print(f"{inclusive[name] / total:>9.1%} {own[name] / total:>6.1%}  {name}")
    print(f"\n{'self':>9}  function (by self time)")
    for name, n in own.most_common(args.top):
        print(f"{n / total:>9.1%}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
