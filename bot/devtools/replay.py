"""Replaying conversation fixtures against the bot, in-process or against a live server.

Both targets send exactly what WeChat sends: a signed query string with a fresh timestamp and nonce,
and the AES envelope when the account is in compatible or safe mode. The in-process target builds the
app on embedded storage (SQLite in a temporary folder, an in-process Redis stand-in, a fake WeChat API
on 127.0.0.1) and can set what a fixture asks for: the clock, the exchange rates, a starting state, and
read the state back for `state:` checks. A live server can do none of that; the run says so per
conversation instead of pretending the checks passed.
"""
from __future__ import annotations

import re
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable, Protocol

import requests

from bot.devtools.conversations import OUTSIDE_CHAT, Conversation, Reply, Step, check, message_for
from bot.devtools.sender import WeChatSender


class TargetError(RuntimeError):
    """The server did not answer like WeChat expects (not HTTP 200, unreachable, unreadable reply)."""


@dataclass
class TurnResult:
    step: Step
    reply: Reply | None
    problems: list[str]
    seconds: float = 0.0


@dataclass
class ConversationResult:
    conversation: Conversation
    openid: str
    turns: list[TurnResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what this target could not set or check
    error: str | None = None  # the conversation could not finish (server error, unreachable)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.error is None and not any(t.problems for t in self.turns)


class Target(Protocol):
    name: str

    def begin(self, conversation: Conversation, openid: str) -> list[str]: ...

    def send(self, xml: str, openid: str) -> str: ...

    def state(self, openid: str) -> dict[str, Any] | None: ...


def _post(sender: WeChatSender, post: Callable[[dict[str, str], bytes], tuple[int, bytes]], xml: str,
          openid: str) -> str:
    request = sender.request(xml, openid=openid)
    status, body = post(request.query, request.body)
    if status != 200:
        raise TargetError(f"the webhook answered HTTP {status}: {body[:200].decode('utf-8', 'replace')}")
    try:
        return sender.read_reply(body)
    except Exception as exc:  # noqa: BLE001 - a reply WeChat could not read is a failure to report
        raise TargetError(f"unreadable reply ({exc}): {body[:200].decode('utf-8', 'replace')}") from None


class InProcess:
    """The app in this process, through its real webhook (Flask's test client: no sockets). With the fakes
    it talks to (`api`, `pay`), it also plays payments and refunds and reads what the bot sent back."""

    def __init__(self, app: Any, api: Any = None, pay: Any = None) -> None:
        w = app.extensions["yjy"].config.wechat
        self.app = app
        self.api, self.pay = api, pay
        self.services = app.extensions["yjy"].services
        self.client = app.test_client()
        self.sender = WeChatSender(w.token, w.appid, w.encoding_aes_key,
                                   w.mode if w.encoding_aes_key else "plain")  # what WeChat sends
        self.name = f"in-process ({w.mode} mode)"
        # The app's own rates, kept on the app: a conversation with `rates:` replaces them for its turns, and a
        # target made later for the same app must still find the configured ones.
        self.configured_rates = app.extensions.setdefault("yjy_configured_rates", self.services.rates)
        self._rates_in_cache = self.services.rates

    @classmethod
    def of(cls, app: Any) -> InProcess:
        """The target for an `embedded_app`, with its fakes."""
        api, pay = app.extensions.get("yjy_fakes", (None, None))
        return cls(app, api, pay)

    def begin(self, conversation: Conversation, openid: str) -> list[str]:
        from bot.infra.clock import Clock
        from bot.travel.rates import Rates, StaticRatesProvider

        s = self.services
        s.clock = Clock(conversation.clock)
        if conversation.rates is not None:
            provider = StaticRatesProvider(conversation.rates, conversation.clock or datetime.now().astimezone())
            s.rates = Rates(provider, s.redis, s.keys, s.config.rates.ttl_seconds)
        else:
            s.rates = self.configured_rates
        if s.rates is not self._rates_in_cache:  # the cached table belongs to the other provider
            s.redis.delete(s.keys.rates())
            self._rates_in_cache = s.rates
        state = dict(conversation.state or {})
        if conversation.lang:
            state["lang"] = conversation.lang
        if state:
            s.store.finish(None, openid, state, 0, "")
        return []

    def send(self, xml: str, openid: str) -> str:
        def post(query: dict[str, str], body: bytes) -> tuple[int, bytes]:
            response = self.client.post("/wechat", query_string=query, data=body, content_type="text/xml")
            return response.status_code, response.data

        return _post(self.sender, post, xml, openid)

    def state(self, openid: str) -> dict[str, Any] | None:
        return self.services.store.load(openid)

    def outside(self, send: dict[str, Any], openid: str) -> Reply:
        """A pay or refund turn: WeChat Pay's side, then what the bot told the traveler (customer-service API)."""
        from bot.bookings import links, orders

        if self.api is None or self.pay is None:
            raise TargetError("pay and refund turns need the fake WeChat API and WeChat Pay")
        before = len(self._told(openid))
        found = orders.for_follower(self.services.db, openid)
        if "pay" in send:
            booking = next((b for b in found if b.status == "pending_payment"), None)
            if booking is None:
                raise TargetError("no booking awaits payment")
            path = links.booking_url(self.services.config, booking).removeprefix(
                self.services.config.public_base_url)
            page, _, query = path.partition("?")
            checkout = self.client.post(f"{page}/pay?{query}")
            if checkout.status_code != 200:
                raise TargetError(f"the pay call answered {checkout.status_code}: {checkout.get_data(as_text=True)}")
            self._notify(self.pay.pay(booking.ref))
        else:
            self._run_jobs()  # the refunds requested are sent to WeChat Pay
            refs = {b.ref for b in found}
            numbers = [n for n, r in self.pay.refunds.items()
                       if r["out_trade_no"] in refs and r["status"] == "PROCESSING"]
            if not numbers:
                raise TargetError("no refund in progress")
            for number in numbers:
                self._notify(self.pay.finish_refund(number, send["refund"]))
        told = self._told(openid)[before:]
        return Reply("text", "\n".join(told)) if told else Reply("none")

    def _notify(self, notification: Any) -> None:
        answer = self.client.post("/pay/notify", data=notification.body, headers=notification.headers)
        if answer.status_code != 204:
            raise TargetError(f"/pay/notify answered {answer.status_code}: {answer.get_data(as_text=True)[:200]}")
        self._run_jobs()

    def _run_jobs(self) -> None:
        if not self.services.config.embedded_redis:  # real Redis: jobs wait for a worker
            from bot.infra.queue import BurstWorker

            with self.app.app_context():
                BurstWorker([self.services.queue], connection=self.services.redis).work(burst=True)

    def _told(self, openid: str) -> list[str]:
        return [c.body["text"]["content"] for c in self.api.calls_to("message/custom/send")
                if c.body.get("touser") == openid and c.body.get("msgtype") == "text"]


class Live:
    """A running server, over HTTP(S), signed with its token (and encrypted with its AES key)."""

    def __init__(self, url: str, token: str, appid: str = "", aes_key: str = "", mode: str | None = None,
                 timeout: float = 10.0) -> None:
        mode = mode or ("safe" if aes_key else "plain")
        if mode != "plain" and not (aes_key and appid):
            raise ValueError(f"{mode} mode needs the AES key and the AppID")
        self.url = url
        self.sender = WeChatSender(token, appid, aes_key, mode)
        self.http = requests.Session()
        self.timeout = timeout
        self.name = f"{url} ({mode} mode)"

    def begin(self, conversation: Conversation, openid: str) -> list[str]:
        notes = []
        if conversation.clock is not None:
            notes.append(f"the server's own clock was used, not {conversation.clock.isoformat()}")
        if conversation.rates is not None:
            notes.append("the server's own exchange rates were used, not the fixture's")
        if conversation.state:
            notes.append("the starting state (fixture) cannot be given to a live server")
        return notes

    def send(self, xml: str, openid: str) -> str:
        def post(query: dict[str, str], body: bytes) -> tuple[int, bytes]:
            try:
                response = self.http.post(self.url, params=query, data=body, timeout=self.timeout,
                                          headers={"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"})
            except requests.RequestException as exc:
                raise TargetError(f"could not reach {self.url}: {exc}") from None
            return response.status_code, response.content

        return _post(self.sender, post, xml, openid)

    def state(self, openid: str) -> dict[str, Any] | None:
        return None


def new_openid() -> str:
    """An openid no real follower has, shaped like WeChat's (28 characters)."""
    return "oRPL" + secrets.token_hex(12)


def play(conversation: Conversation, target: Target) -> ConversationResult:
    """Run one conversation; every turn's checks, or where it stopped."""
    openid = new_openid()
    result = ConversationResult(conversation, openid)
    started = time.perf_counter()
    result.notes = target.begin(conversation, openid)
    for step in conversation.steps:
        t0 = time.perf_counter()
        try:
            if set(step.send) & OUTSIDE_CHAT:
                if not isinstance(target, InProcess):
                    note = "pay and refund turns run only in-process: skipped with their checks"
                    if note not in result.notes:
                        result.notes.append(note)
                    continue
                reply = target.outside(step.send, openid)
            else:
                reply = Reply.parse(target.send(message_for(step.send, openid), openid))
        except TargetError as exc:
            result.error = f"line {step.line}: {exc}"
            break
        state: dict[str, Any] | None = None
        expect = step.expect
        if "state" in expect:
            state = target.state(openid)
            if state is None and not isinstance(target, InProcess):
                expect = {k: v for k, v in expect.items() if k != "state"}
                if "state checks are not visible on a live server" not in result.notes:
                    result.notes.append("state checks are not visible on a live server")
        result.turns.append(TurnResult(step, reply, check(expect, reply, state), time.perf_counter() - t0))
    result.seconds = time.perf_counter() - started
    return result


def replay(conversations: list[Conversation], target: Target,
           on_result: Callable[[ConversationResult], None] | None = None) -> list[ConversationResult]:
    results = []
    for conversation in conversations:
        result = play(conversation, target)
        results.append(result)
        if on_result:
            on_result(result)
    return results


# --- the embedded app for in-process replays ----------------------------------------------------------
def embedded_app(mode: str = "safe", workdir: Path | None = None) -> tuple[Any, Callable[[], None]]:
    """An app on throwaway storage with its own fake WeChat API and WeChat Pay; (app, close). The fakes are
    `app.extensions["yjy_fakes"]` (api, pay), for `InProcess.of(app)`."""
    from bot import create_app
    from bot.bookings.orders import sync_catalogue
    from bot.devtools.fake_api import FakeWeChatAPI
    from bot.devtools.pay_setup import embedded_pay
    from bot.infra.config import load_config
    from bot.infra.devsecrets import generate

    tmp = tempfile.TemporaryDirectory(prefix="yjy-replay-", dir=workdir)
    api = FakeWeChatAPI().start()
    generated = generate()
    appid = "wxreplay" + secrets.token_hex(5)
    pay, pay_overrides = embedded_pay(Path(tmp.name) / "pay", appid=appid)
    config = load_config(environ={"BOT_ALLOW_MEMORY_REDIS": "1"}, dev=False, overrides={
        **pay_overrides,
        "wechat.token": generated["token"], "wechat.appid": appid,
        "wechat.appsecret": generated["appsecret"], "wechat.encoding_aes_key": generated["encoding_aes_key"],
        "wechat.mode": mode, "wechat.api_base_url": api.base_url, "redis.url": "memory://",
        "database.url": f"sqlite:///{tmp.name}/replay.sqlite3",
    })
    app = create_app(config)
    app.extensions["yjy_fakes"] = (api, pay)
    ext = app.extensions["yjy"]
    ext.db.upgrade()
    sync_catalogue(ext.db, ext.content.products, ext.clock.now().date())

    def close() -> None:
        ext.services.close()
        api.stop()
        pay.close()
        tmp.cleanup()

    return app, close


# --- reports --------------------------------------------------------------------------------------------
def describe_send(send: dict[str, Any]) -> str:
    kind = next(iter(send))
    value = send[kind]
    if isinstance(value, dict):
        value = ", ".join(f"{k}={v}" for k, v in value.items())
    extra = ", ".join(f"{k}={v}" for k, v in send.items() if k != kind)
    return f"{kind}: {value}" + (f" ({extra})" if extra else "")


def describe_reply(reply: Reply | None) -> str:
    if reply is None:
        return "-"
    if reply.kind == "none":
        return "no reply (success)"
    if reply.kind == "news":
        return f"news「{reply.title}」"
    lines = reply.text.strip().splitlines() or [""]
    more = "…" if len(lines[0]) > 40 or len(lines) > 1 else ""
    return f"{reply.kind}「{lines[0][:40]}{more}」"


def format_result(result: ConversationResult, verbose: bool = True) -> str:
    c = result.conversation
    lines = [f"{'PASS' if result.passed else 'FAIL'} {c.id}  ({result.seconds * 1000:.0f} ms)"]
    for n, turn in enumerate(result.turns, start=1):
        if turn.problems or verbose:
            mark = "  ok  " if not turn.problems else "  FAIL"
            lines.append(f"{mark} {n:>2}  {describe_send(turn.step.send)}  ->  {describe_reply(turn.reply)}")
        for problem in turn.problems:
            lines.append(f"         {c.file}:{turn.step.expect_line}")
            lines.extend("         " + line for line in problem.splitlines())
    if result.error:
        lines.append(f"  ERROR {result.error}")
    lines.extend(f"  note: {note}" for note in result.notes)
    return "\n".join(lines)


def summary(results: list[ConversationResult], seconds: float) -> str:
    passed = sum(r.passed for r in results)
    turns = sum(len(r.turns) for r in results)
    failed_turns = sum(bool(t.problems) for r in results for t in r.turns)
    errors = sum(r.error is not None for r in results)
    noted = sum(bool(r.notes) for r in results)
    text = (f"{len(results)} conversations, {turns} turns: {passed} passed, {len(results) - passed} failed"
            f" ({failed_turns} failed turns, {errors} errors) in {seconds:.1f} s")
    if noted:
        text += f"; {noted} ran with notes (what a live server cannot be given)"
    return text


def junit_xml(results: list[ConversationResult], target_name: str) -> bytes:
    """A JUnit report: a test suite per fixture file, a test case per conversation."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name=f"yijiyou replay: {target_name}")
    by_file: dict[str, list[ConversationResult]] = {}
    for r in results:
        by_file.setdefault(r.conversation.file, []).append(r)
    for file, group in by_file.items():
        suite = ET.SubElement(root, "testsuite", name=Path(file).name, tests=str(len(group)),
                              failures=str(sum(not r.passed and r.error is None for r in group)),
                              errors=str(sum(r.error is not None for r in group)),
                              time=f"{sum(r.seconds for r in group):.3f}")
        for r in group:
            case = ET.SubElement(suite, "testcase", classname=Path(file).stem, name=r.conversation.name,
                                 file=file, line=str(r.conversation.line), time=f"{r.seconds:.3f}")
            if r.error is not None:
                ET.SubElement(case, "error", message=r.error).text = format_result(r, verbose=False)
            elif not r.passed:
                first = next(p for t in r.turns for p in t.problems)
                ET.SubElement(case, "failure", message=first.splitlines()[0]).text = format_result(r, verbose=False)
            if r.notes:
                ET.SubElement(case, "system-out").text = "\n".join(r.notes)
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


# --- recording --------------------------------------------------------------------------------------
def expectation(reply: Reply) -> dict[str, Any]:
    """The checks that pin down this reply, for a recorded fixture (a person reviews them before use)."""
    if reply.kind == "none":
        return {"no_reply": True}
    if reply.kind == "news":
        return {"type": "news", "title": reply.title, "url_regex": "^" + re.escape(reply.url.split("?")[0])}
    return {"type": reply.kind, "equals": reply.text}


def recorded(results: list[ConversationResult], clock: datetime) -> dict[str, Any]:
    """A fixture document of what the bot answered: the same turns, each with its reply's checks."""
    conversations = []
    for r in results:
        c = r.conversation
        conv: dict[str, Any] = {"name": c.name, "clock": (c.clock or clock).isoformat()}
        if c.lang:
            conv["lang"] = c.lang
        if c.rates is not None:
            conv["rates"] = {k: float(v) for k, v in c.rates.items()}
        if c.state:
            conv["state"] = c.state
        conv["steps"] = [{"send": t.step.send, "expect": expectation(t.reply)} for t in r.turns if t.reply]
        conversations.append(conv)
    return {"conversations": conversations}


def dump_fixture(document: dict[str, Any]) -> str:
    import yaml

    class Dumper(yaml.SafeDumper):
        pass

    def text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
        style = "|" if "\n" in value else None
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)

    Dumper.add_representer(str, text)
    header = ("# Recorded by `yijiyou replay --record`: what the bot answered, turned into checks.\n"
              "# Review before committing: keep what must hold, loosen what may change (dates, references).\n")
    return header + yaml.dump(document, Dumper=Dumper, allow_unicode=True, sort_keys=False, width=100)
