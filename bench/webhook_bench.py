"""Load benchmark of the `/wechat` webhook under gunicorn, against a bare-Flask ceiling.

    .venv/bin/python bench/webhook_bench.py [--duration 10] [--connections 16] [--scenarios bare,safe]

Scenarios (same gunicorn settings, duration and connections): `plain` and `safe` are the real app
(`gunicorn wsgi:app`, real Redis and PostgreSQL); `werobot` is WeRoBot 1.13 echoing the same safe-mode
messages (bench/werobot_app.py, in a virtualenv of its own), `werobot-redis` the same with WeRoBot's Redis
session; `bare` is bench/bare_app.py, which only checks the signature; `bare-redis` is that plus the
service's two Redis round trips. The texts are travelers' questions (bench/understanding/messages.yaml)
from `--followers` followers who all wrote before (the warm-up), or "帮助" alone with `--texts help`.
Requests come from bot.devtools.sender, so they are byte for byte what WeChat sends, each with its own
MsgId. Load: wrk + bench/replay.lua. All traffic goes to 127.0.0.1. See bench/README.md.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
import yaml  # noqa: E402

from bot.devtools import sender as build
from bot.devtools.sender import Request, WeChatSender

BIN = Path(sys.executable).parent
LUA = ROOT / "bench" / "replay.lua"
TOKEN = "benchToken2024"
APPID = "wxbe0c1000000000b1"
APPSECRET = "bench-appsecret-not-real"
AES_KEY = "bEnChAesKey0123456789abcdefghijklmnopqrstuv"  # 43 chars: decodes to 32 bytes
TARGET = 0.5  # issue #14: the safe-mode full path must reach this share of WeRoBot's plain echo
HELP = "帮助"
SCENARIOS = ("werobot", "werobot-redis", "bare", "bare-redis", "plain", "safe")
WEROBOT = "werobot==1.13.1"
WEROBOT_VENV = ROOT / "bench" / ".werobot-venv"  # not committed (.gitignore)
MESSAGES = ROOT / "bench" / "understanding" / "messages.yaml"
_msg_ids = itertools.count(time.time_ns() // 1000)  # distinct across scenarios and runs


@dataclass
class Result:
    scenario: str
    rps: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    bad_bodies: int
    repeats: int
    requests: int
    cpu_ms: float  # gunicorn CPU (master + workers, user + sys) per request
    busy: float  # share of all CPUs busy during the run, whoever used them
    others: float  # cores busy outside gunicorn and wrk: Redis, PostgreSQL, kernel, anything else

    @property
    def errors(self) -> int:
        return self.non2xx + self.socket_errors + self.bad_bodies


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU of the live processes in process group `pgid` (Linux /proc)."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[2]) == pgid:
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) jiffies over all CPUs, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    """One gunicorn master in its own process group, killed (group-wide) on exit whatever happened."""

    def __init__(self, app: str, env: dict[str, str], args: argparse.Namespace, log_dir: Path,
                 bin_dir: Path = BIN) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        worker = ["-k", args.worker_class] + (["--threads", str(args.threads)]
                                               if args.worker_class == "gthread" else [])
        self.cmd = [str(bin_dir / "gunicorn"), "-w", str(args.workers), *worker, "-b", f"127.0.0.1:{self.port}",
                    "--graceful-timeout", "2", "--timeout", "30", app]
        self.env = env
        self.log_path = log_dir / f"gunicorn-{app.split(':')[0]}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> Gunicorn:
        # Output to a file, never a pipe: the app logs a line per message and a full pipe would stall it.
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        try:
            return self._wait_ready()
        except BaseException:
            self.__exit__()  # `with` does not call __exit__ when __enter__ raises
            raise

    def _wait_ready(self) -> Gunicorn:
        assert self.proc is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/healthz", timeout=1) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready after 30 s; see {self.log_path}")

    def __exit__(self, *exc: object) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=5)


def make_requests(sender: WeChatSender, openids: list[str], texts: list[str], count: int) -> Iterator[Request]:
    """`count` messages round-robin over `openids` and `texts`, each with a fresh MsgId, signed now."""
    step = len(texts) // 7 or 1  # a follower's next message is another text, not the same one again
    for i in range(count):
        text = texts[(i + (i // len(openids)) * step) % len(texts)]
        yield sender.request(build.text(openids[i % len(openids)], text, msg_id=next(_msg_ids)))


def load_texts(kind: str) -> list[str]:
    """The travelers' questions of the understanding benchmark, or the help command alone."""
    if kind == "help":
        return [HELP]
    data = yaml.safe_load(MESSAGES.read_text(encoding="utf-8"))
    return [m["text"] for m in data["messages"] if "\n" not in m["text"] and "\t" not in m["text"]]


def werobot_bin() -> Path:
    """A virtualenv with WeRoBot and our gunicorn and redis-py versions (made once, then reused)."""
    from importlib.metadata import version

    pins = [WEROBOT, f"gunicorn=={version('gunicorn')}", f"redis=={version('redis')}",
            f"cryptography=={version('cryptography')}"]
    stamp = WEROBOT_VENV / ".pins"
    if not stamp.exists() or stamp.read_text() != " ".join(pins):
        print(f"  making {WEROBOT_VENV.relative_to(ROOT)}: {' '.join(pins)}", flush=True)
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(WEROBOT_VENV)], check=True)
        subprocess.run([str(WEROBOT_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", *pins],
                       check=True)
        stamp.write_text(" ".join(pins))
    return WEROBOT_VENV / "bin"


def write_requests(path: Path, requests: Iterator[Request]) -> int:
    """One request per line for replay.lua: "<path?query>\\t<body>"."""
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        for req in requests:
            body = req.body.decode("utf-8")
            if "\n" in body or "\t" in body:
                raise ValueError("a request body spans lines; replay.lua reads one request per line")
            f.write(f"/wechat?{req.query_string}\t{body}\n")
            n += 1
    return n


def post(url: str, req: Request, timeout: float = 10) -> tuple[int, bytes]:
    """One signed request to `url`/wechat, as WeChat posts it: (status, body)."""
    http = urllib.request.Request(f"{url}/wechat?{req.query_string}", data=req.body,
                                  headers={"Content-Type": "text/xml"}, method="POST")
    with urllib.request.urlopen(http, timeout=timeout) as r:
        return r.status, r.read()


def sanity_check(url: str, sender: WeChatSender, scenario: str, openids: list[str]) -> None:
    """Five real requests before the load: a 200 whose (decrypted) XML is a text reply, or "success"."""
    for req in make_requests(sender, openids, [HELP], 5):
        status, body = post(url, req)
        bare = scenario.startswith("bare")
        reply = body.decode("utf-8") if bare else sender.read_reply(body)
        ok = reply == "success" if bare else "<MsgType><![CDATA[text]]></MsgType>" in reply
        if status != 200 or not ok:
            raise RuntimeError(f"{scenario}: unexpected reply {status} {reply[:200]!r}")


def introduce(url: str, sender: WeChatSender, openids: list[str], texts: list[str]) -> None:
    """One message from each follower, all answered, before any load: the measured messages come from
    followers the service knows (a follower row, a conversation state), as most messages do."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(8) as pool:
        statuses = [status for status, _ in pool.map(lambda req: post(url, req),
                                                     make_requests(sender, openids, texts, len(openids)))]
    if set(statuses) != {200}:
        raise RuntimeError(f"introducing followers: statuses {sorted(set(statuses))}")


def run_wrk(url: str, requests_file: Path, expect: str, duration: int, args: argparse.Namespace) -> dict:
    """One wrk run; the figures come from replay.lua's done() line, not from wrk's human output."""
    cmd = ["wrk", "-t", str(args.threads_wrk), "-c", str(args.connections), "-d", f"{duration}s",
           "--timeout", "10s", "--latency", "-s", str(LUA), f"{url}/wechat", "--",
           str(requests_file), str(args.threads_wrk), expect]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 60)
    out = done.stdout
    if args.verbose or done.returncode != 0:
        print(out, done.stderr, sep="\n")
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode})")
    line = next(row for row in out.splitlines() if row.startswith("WRK_RESULT "))
    return json.loads(line.removeprefix("WRK_RESULT "))


def run_scenario(scenario: str, env: dict[str, str], args: argparse.Namespace, tmp: Path) -> Result:
    """Start gunicorn, check replies, warm up, then measure with enough distinct requests."""
    mode = "plain" if scenario in ("plain", "bare", "bare-redis") else "safe"
    sender = WeChatSender(TOKEN, APPID, AES_KEY, mode)
    # Reply bodies every 200 must contain: the bare app says success, safe mode is encrypted.
    expect = {"bare": "success", "bare-redis": "success", "plain": "<MsgType><![CDATA["}.get(
        scenario, "<Encrypt><![CDATA[")
    bin_dir = BIN
    if scenario.startswith("bare"):
        app, env = "bench.bare_app:app", dict(env, BARE_REDIS="1" if scenario == "bare-redis" else "0")
    elif scenario.startswith("werobot"):
        app, bin_dir = "bench.werobot_app:app", werobot_bin()
        env = dict(env, WEROBOT_REDIS_URL=args.redis_url if scenario == "werobot-redis" else "")
    else:
        app = "wsgi:app"
    # Per scenario, the same followers in the warm-up and the measured run: the measured messages come from
    # followers who wrote before (a follower row, a conversation state), as most messages do.
    openids = [f"o-bench-{scenario}-{i:04d}" for i in range(args.followers)]
    texts = load_texts(args.texts)
    with Gunicorn(app, env, args, tmp, bin_dir) as server:
        sanity_check(server.url, sender, scenario, openids)
        introduce(server.url, sender, openids, texts)
        time.sleep(1)  # the service's background writes of those first messages land before the measurement
        # Two warm-up runs: the first absorbs one-off costs (connections, first upserts), the second
        # gives the rate that sizes the measured set (running short would show as "repeats"). Each
        # run gets fresh MsgIds: wrk restarts the file, and repeats would measure the dedup cache.
        warm: dict = {}
        for _ in range(2):
            warm_file = tmp / f"{scenario}-warm.txt"
            write_requests(warm_file, make_requests(sender, openids, texts, 4000))
            warm = run_wrk(server.url, warm_file, expect, args.warmup, args)
        rate = warm["requests"] / (warm["duration_us"] / 1e6)
        count = min(args.max_requests, max(args.min_requests, math.ceil(rate * args.duration * 2) + 3000))
        started = time.monotonic()
        run_file = tmp / f"{scenario}-run.txt"
        write_requests(run_file, make_requests(sender, openids, texts, count))
        print(f"  {scenario}: warm-up {rate:,.0f} req/s; built {count:,} requests in "
              f"{time.monotonic() - started:.1f} s; measuring {args.duration:g} s ...", flush=True)
        # CPU accounting tells service cost apart from noise: req/s moves with anything else running.
        wrk0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu0, (busy0, total0), t0 = group_cpu_seconds(server.proc.pid), machine_jiffies(), time.monotonic()
        spies = start_py_spy(server.proc.pid, scenario, args, tmp) if args.py_spy else []
        r = run_wrk(server.url, run_file, expect, args.duration, args)
        for spy in spies:
            spy.wait(timeout=60)
        cpu1, (busy1, total1), t1 = group_cpu_seconds(server.proc.pid), machine_jiffies(), time.monotonic()
        wrk1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = r["duration_us"] / 1e6
    busy = (busy1 - busy0) / max(total1 - total0, 1)
    wrk_cpu = wrk1.ru_utime + wrk1.ru_stime - wrk0.ru_utime - wrk0.ru_stime
    # Over the whole window (wrk's start-up included), like `busy`; jiffies make it good to ~0.05.
    others = busy * (os.cpu_count() or 1) - (cpu1 - cpu0 + wrk_cpu) / (t1 - t0)
    return Result(scenario, r["requests"] / seconds, r["p50_us"] / 1000, r["p99_us"] / 1000, r["non2xx"],
                  r["connect"] + r["read"] + r["write"] + r["timeout"], r["bad_bodies"], r["repeats"],
                  r["requests"], (cpu1 - cpu0) / max(r["requests"], 1) * 1000, busy, others)


def start_py_spy(master: int, scenario: str, args: argparse.Namespace, tmp: Path) -> list[subprocess.Popen]:
    """py-spy (sampling, every thread, native frames off) on each worker for the measured run."""
    workers = [int(p) for p in Path(f"/proc/{master}/task/{master}/children").read_text().split()]
    out = Path(args.py_spy)
    out.mkdir(parents=True, exist_ok=True)
    return [subprocess.Popen(["py-spy", "record", "-p", str(pid), "-r", "250", "-d", str(args.duration),
                              "--format", "raw", "-o", str(out / f"{scenario}-{pid}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for pid in workers]


def prepare(args: argparse.Namespace) -> dict[str, str]:
    """The app's environment; flushes the benchmark's Redis db and migrates the database."""
    env = dict(os.environ, WECHAT_TOKEN=TOKEN, WECHAT_APPID=APPID, WECHAT_APPSECRET=APPSECRET,
               WECHAT_ENCODING_AES_KEY=AES_KEY, REDIS_URL=args.redis_url, DATABASE_URL=args.database_url,
               # Nothing on the help path calls WeChat; if something did, it must not leave the machine.
               WECHAT_API_BASE_URL="http://127.0.0.1:9", PYTHONPATH=str(ROOT))
    env.pop("BOT_CONFIG", None)
    env.pop("BOT_DEV", None)
    redis.Redis.from_url(args.redis_url).flushdb()
    done = subprocess.run([str(BIN / "flask"), "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError("flask db upgrade failed:\n" + "\n".join(done.stderr.splitlines()[-15:]))
    return env


def code_version() -> str:
    """Which code was measured: the figures mean little without it."""
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=10).stdout.strip()
    except OSError:
        rev = ""
    return f"{ROOT} ({rev or 'not a git checkout'})"


def report(results: list[Result], args: argparse.Namespace) -> bool:
    print(f"\ncode: {code_version()}")
    print(f"{args.workers} x gunicorn {args.worker_class}"
          f"{f' ({args.threads} threads)' if args.worker_class == 'gthread' else ''}, "
          f"wrk -t{args.threads_wrk} -c{args.connections} -d{args.duration:g}s, {os.cpu_count()} CPUs")
    print(f"{'scenario':<11}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'errors':>7}{'CPU ms/req':>11}{'busy':>6}"
          f"{'others':>7}   (non-2xx / socket / bad body / repeats of requests)")
    for r in results:
        print(f"{r.scenario:<11}{r.rps:>8,.0f}{r.p50_ms:>8.2f}{r.p99_ms:>8.2f}{r.errors:>7}{r.cpu_ms:>11.3f}"
              f"{r.busy:>6.0%}{r.others:>7.2f}   ({r.non2xx} / {r.socket_errors} / {r.bad_bodies} / {r.repeats}"
              f" of {r.requests:,})")
    print("CPU ms/req: gunicorn's own CPU per request; busy: all CPUs; others: cores used by neither\n"
          "gunicorn nor wrk (Redis, PostgreSQL, kernel, other programs: a large value means a noisy run)")
    by = {r.scenario: r for r in results}
    met = True
    for peer in ("werobot", "werobot-redis", "bare"):
        if peer in by:
            print(f"rate / {peer}: " + ", ".join(f"{r.scenario} {r.rps / by[peer].rps:.2f}" for r in results
                                                 if r.scenario != peer))
    if "werobot" in by and "safe" in by:
        share = by["safe"].rps / by["werobot"].rps
        met = share >= TARGET
        print(f"target safe / werobot echo >= {TARGET}: {'MET' if met else 'NOT MET'} ({share:.2f}); "
              f"p99 {by['safe'].p99_ms:.1f} ms (target <= 10)")
    # The bare app keeps no dedup, so a repeated request costs it the same: only the real app's count.
    clean = all(r.errors == 0 and (r.repeats == 0 or r.scenario.startswith("bare")) for r in results)
    if not clean:
        print("WARNING: errors or repeated MsgIds in the load run; those figures are not the measured path")
    return met and clean


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per scenario (max 200: timestamps)")
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--worker-class", choices=("sync", "gthread"), default="sync", help="see README")
    p.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    p.add_argument("--threads-wrk", type=int, default=1, help="wrk threads (it shares the CPUs with gunicorn)")
    p.add_argument("--warmup", type=int, default=1, help="seconds of each of the two warm-up runs")
    p.add_argument("--max-requests", type=int, default=400_000)
    p.add_argument("--scenarios", default="werobot,werobot-redis,safe",
                   help=f"any of {', '.join(SCENARIOS)}")
    p.add_argument("--followers", type=int, default=1000, help="distinct senders, each warmed up first")
    p.add_argument("--texts", choices=("mixed", "help"), default="mixed",
                   help="travelers' questions (the understanding set) or the help command alone")
    p.add_argument("--min-requests", type=int, default=30_000, help="distinct requests built for the run")
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/12", help="this database is flushed")
    p.add_argument("--database-url", default="postgresql://postgres@127.0.0.1:5432/test")
    p.add_argument("--verbose", action="store_true", help="print wrk's own output")
    p.add_argument("--py-spy", metavar="DIR", help="record each worker with py-spy (collapsed stacks) into DIR; "
                                                    "read them with bench/stacks.py")
    args = p.parse_args()
    if unknown := set(args.scenarios.split(",")) - set(SCENARIOS):
        p.error(f"unknown scenarios {sorted(unknown)}; choose from {', '.join(SCENARIOS)}")
    if not 1 <= args.duration <= 200:
        p.error("--duration must be 1..200 s: requests are signed up front and expire after 300 s")
    if shutil.which("wrk") is None:
        print("wrk not found. Install it: sudo apt-get update && sudo apt-get install -y wrk", file=sys.stderr)
        return 2
    # A plain `kill` must still stop gunicorn: SystemExit unwinds through the `with` blocks.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    env = prepare(args)
    print(f"benchmarking {code_version()}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="yjy-bench-") as tmp:
        for scenario in args.scenarios.split(","):
            try:
                results.append(run_scenario(scenario, env, args, Path(tmp)))
            except Exception:
                logs = sorted(Path(tmp).glob("gunicorn-*.log"), key=lambda f: f.stat().st_mtime)
                if logs:
                    print(f"--- last lines of {logs[-1].name} ---\n"
                          + "\n".join(logs[-1].read_text(errors="replace").splitlines()[-20:]), file=sys.stderr)
                raise
    return 0 if report(results, args) else 1


if __name__ == "__main__":
    sys.exit(main())
