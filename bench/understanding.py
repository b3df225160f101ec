"""How well the bot understands travelers: accuracy over a labelled set, judged by the replies alone.

    python bench/understanding.py                      # the whole set, in-process, accuracy per group
    python bench/understanding.py --group money -v     # one group, every failure shown
    python bench/understanding.py --heldout            # the held-out set: accuracy only
    python bench/understanding.py --say "门票呢" ...   # one conversation, print the replies (a probe)
    python bench/understanding.py --url https://host/wechat --token T [--aes-key K]   # live server

The set is `bench/understanding/messages.yaml` (single first messages) and `conversations.yaml`
(multi-turn), written from how travelers talk, not from our word lists. Its failures are shown and worked
on, so it is a development set; `heldout.yaml`, written the same way by someone else, is scored with
`--heldout`, which prints figures only: nobody reads its messages, so it measures what was not tuned to.
Each message goes through the real webhook (signed and encrypted as WeChat sends it) from a new
follower; each reply is judged by what a traveler sees: the card it opens, the list it shows, the words it
says, and its language. Labels are documented in the data files; `Judge.check()` says what each requires.
"""
from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.conversation.language import is_pinyin  # noqa: E402
from bot.devtools import sender as build  # noqa: E402
from bot.devtools.conversations import Reply  # noqa: E402
from bot.devtools.replay import InProcess, Live, TargetError, embedded_app, new_openid  # noqa: E402

DATA = ROOT / "bench" / "understanding"
_CJK = re.compile(r"[\u3400-\u9fff]")
_LATIN = re.compile(r"[A-Za-z]")
_LIST_ITEM = re.compile(r"^\s*(\d{1,2})[.、]\s*(?:<a [^>]*>)?([^<\n（(·|]+)", re.M)
# Words that a reply of each kind shows, in either language (our templates; the judge reads replies only).
MARKERS: dict[str, tuple[str, ...]] = {
    "greeting": ("您好呀", "Hi there"), "thanks": ("不客气", "You're welcome"), "goodbye": ("再见", "Bye"),
    "identity": ("🤖",), "emoji": ("😊 收到", "😊 Got it"), "help": ("随时回复「帮助」", 'Send "help" any time'),
    "handoff": ("工作人员", "staff"), "complaint": ("投诉", "发生了什么", "complaint", "what happened"),
    "suggest": ("你是想问", "您是想问", "Did you mean", "did you mean"),
    "tax_refund": ("🧾",), "rate": ("汇率", "rate"), "coupons": ("优惠", "券", "coupon", "discount"),
    "my_bookings": ("订单", "预订记录", "booking"), "cancel_booking": ("取消", "cancel", "Cancel"),
    "nearby": ("📍",), "keeps": ("继续", "continue", '"resume"'),
}


@dataclass
class Case:
    group: str
    text: str | None
    expect: list[str]
    line: int
    location: dict[str, Any] | None = None
    keeps: str | None = None


@dataclass
class Judged:
    case: Case
    reply: Reply | None
    ok: bool
    why: str = ""
    lang_ok: bool = True


@dataclass
class Tally:
    right: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    failures: list[Judged] = field(default_factory=list)

    def add(self, group: str, judged: Judged) -> None:
        self.total[group] += 1
        if judged.ok:
            self.right[group] += 1
        else:
            self.failures.append(judged)

    def accuracy(self) -> float:
        return sum(self.right.values()) / max(1, sum(self.total.values()))


class Lines(yaml.SafeLoader):
    """A YAML loader that remembers each mapping's line, for failures that point into the data."""


def _mapping(loader: Lines, node: yaml.MappingNode) -> dict[str, Any]:
    value = loader.construct_mapping(node, deep=True)
    value["__line__"] = node.start_mark.line + 1
    return value


Lines.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)


def _case(item: dict[str, Any], group: str) -> Case:
    expect = item["expect"]
    return Case(item.get("group", group), item.get("text"), expect if isinstance(expect, list) else [expect],
                item["__line__"], item.get("location"), item.get("keeps"))


def load(heldout: bool = False) -> tuple[list[Case], list[tuple[str, list[Case]]]]:
    if heldout:
        doc = yaml.load((DATA / "heldout.yaml").read_text(encoding="utf-8"), Lines)
        messages, talks = doc["messages"], doc["conversations"]
    else:
        messages = yaml.load((DATA / "messages.yaml").read_text(encoding="utf-8"), Lines)["messages"]
        talks = yaml.load((DATA / "conversations.yaml").read_text(encoding="utf-8"), Lines)["conversations"]
    singles = [_case(m, m["group"]) for m in messages]
    conversations = [(c["name"], [_case(t, c.get("group", "conversation")) for t in c["turns"]]) for c in talks]
    return singles, conversations


class Judge:
    """What a reply must show for each label, from the content the bot serves."""

    def __init__(self, content: Any) -> None:
        self.places = {p.id: p for p in content.places}
        self.products = {p.id: p for p in content.products}
        self.categories = content.categories.items
        self.collections = getattr(content, "collections", None)
        self.currencies = content.money.currencies if hasattr(content.money, "currencies") else {}

    def names(self, kind: str, key: str) -> list[str]:
        if kind == "place":
            place = self.places[key]
            short = [re.split(r"[（(]", n)[0].strip() for n in place.name.values() if n]
            return [n for n in short if n]
        if kind == "product":
            return [n for n in self.products[key].name.values() if n]
        if kind == "category":
            return list(self.categories[key].label.values())
        if kind == "collection" and self.collections is not None and key in self.collections.items:
            return list(self.collections.items[key].title.values())
        return [key]

    def check(self, label: str, reply: Reply, previous: Reply | None, state: dict[str, Any] | None) -> str:
        """'' when the reply fits the label, else why not."""
        kind, _, arg = label.partition(":")
        text = reply.text
        path = re.sub(r"[?#].*$", "", reply.url)
        if kind == "place":
            return "" if reply.kind == "news" and path.endswith(f"/p/attractions/{arg}") else f"not the {arg} card"
        if kind == "topic":
            return "" if reply.kind == "news" and path.endswith(f"/p/info/{arg}") else f"not the {arg} card"
        if kind == "product":
            if reply.kind == "news" and path.endswith(f"/p/products/{arg}"):
                return ""
            return "" if any(n in text for n in self.names("product", arg)) else f"no {arg}"
        if kind == "book":
            if arg == "any":
                return self.check("products", reply, previous, state)
            if reply.kind == "text" and any(n in text for n in self.names("product", arg)):
                return ""
            return f"no booking of {arg}"
        if kind == "products":
            shown = sum(any(n in text for n in p.name.values() if n) for p in self.products.values())
            return "" if shown >= 3 else f"{shown} products listed"
        if kind in ("category", "collection"):
            return "" if any(n in text for n in self.names(kind, arg)) else f"no {kind} {arg}"
        if kind == "route":
            a, _, b = arg.partition(":")
            both = all(any(n in text for n in self.names("place", p)) for p in (a, b))
            return "" if reply.kind == "text" and both else f"no way from {a} to {b}"
        if kind == "money":
            currency, _, amount = arg.partition(":")
            value = Decimal(amount)
            shown = {f"{value:,.0f}", f"{value:,.2f}", f"{value:.0f}"}
            if "💱" in text and any(s in text for s in shown):
                return ""
            return f"no conversion of {amount} {currency}"
        if kind == "pick":
            items = dict(_LIST_ITEM.findall(previous.text)) if previous else {}
            name = items.get(arg, "").strip()
            return "" if name and reply.kind == "news" and name.split()[0] in reply.title else f"not item {arg}"
        if kind in ("booking", "resume"):
            if state is not None:
                return "" if (state.get("booking") or state.get("flow") == "booking") else "no booking in progress"
            return "" if reply.kind == "text" else "no booking step"
        markers = MARKERS.get(kind)
        if markers is None:
            return f"unknown label {label!r}"
        if kind == "handoff" and "transfer_customer_service" in reply.raw:
            return ""
        return "" if any(m in text for m in markers) else f"not a {kind} reply"

    @staticmethod
    def language_fits(case: Case, reply: Reply) -> bool:
        """An English message (two or more latin words, not all pinyin) gets an English reply (a few CJK names
        inside are fine)."""
        if not case.text or _CJK.search(case.text) or not _LATIN.search(case.text):
            return True
        words = re.findall(r"[A-Za-z]+", case.text)
        if len(words) < 2 or all(is_pinyin(w) for w in words):  # one word tells no language; pinyin is Chinese
            return True
        cjk, latin = len(_CJK.findall(reply.text)), len(_LATIN.findall(reply.text))
        return cjk <= latin * 0.15


def _send(target: Any, case: Case, openid: str) -> Reply:
    if case.location:
        loc = case.location
        xml = build.location(openid, float(loc["lat"]), float(loc["lng"]), str(loc.get("label", "")))
    else:
        xml = build.text(openid, str(case.text))
    return Reply.parse(target.send(xml, openid))


def run_turns(target: Any, judge: Judge, cases: list[Case]) -> list[Judged]:
    """One conversation from a new follower; each turn judged."""
    openid = new_openid()
    target.begin(_Blank(), openid)
    previous: Reply | None = None
    results = []
    for case in cases:
        try:
            reply = _send(target, case, openid)
        except TargetError as exc:
            results.append(Judged(case, None, False, f"server: {exc}"))
            break
        state = target.state(openid) if any(e in ("booking", "resume") for e in case.expect) else None
        whys = [judge.check(label, reply, previous, state) for label in case.expect]
        why = "" if "" in whys else " / ".join(whys)
        if not why and case.keeps and not any(m in reply.text for m in MARKERS["keeps"]):
            why = f"the {case.keeps} was not kept"
        lang_ok = judge.language_fits(case, reply)
        if not why and not lang_ok:
            why = "answered in the wrong language"
        results.append(Judged(case, reply, not why, why, lang_ok))
        previous = reply
    return results


class _Blank:
    """A conversation with no clock, rates or state of its own: the configured ones apply."""

    clock = None
    rates = None
    state = None
    lang = None


def _kind(reply: Reply | None) -> str:
    """What kind of answer a reply is, without its words: for the held-out set's confusion table."""
    if reply is None:
        return "no reply"
    path = re.sub(r"[?#].*$", "", reply.url)
    for prefix in ("/p/attractions/", "/p/info/", "/p/products/"):
        if prefix in path:
            return prefix.split("/")[2] + ("" if prefix == "/p/attractions/" else ":" + path.rsplit("/", 1)[1])
    for kind, markers in MARKERS.items():
        if kind not in ("keeps", "handoff", "complaint", "coupons", "my_bookings", "cancel_booking") and \
                any(m in reply.text for m in markers):
            return kind
    if "💱" in reply.text:
        return "money"
    return f"{reply.kind} (other)"


def _show(judged: Judged) -> str:
    reply = judged.reply
    got = "(no reply)" if reply is None else f"[{reply.kind}] {reply.url} {reply.text[:160]!r}"
    said = judged.case.text if judged.case.text is not None else f"location {judged.case.location}"
    return f"  line {judged.case.line}: {said!r} expected {judged.case.expect}: {judged.why}\n      got {got}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--group", help="only this group (messages and conversations)")
    parser.add_argument("-v", "--verbose", action="store_true", help="show every failure in full")
    parser.add_argument("--heldout", action="store_true",
                        help="score the held-out set (heldout.yaml): figures only, never its messages")
    parser.add_argument("--say", nargs="+", metavar="TEXT", help="send these texts as one conversation, print replies")
    parser.add_argument("--url", help="a live server's webhook URL instead of the in-process app")
    parser.add_argument("--token", default="")
    parser.add_argument("--appid", default="")
    parser.add_argument("--aes-key", default="")
    args = parser.parse_args(argv)
    logging.disable(logging.WARNING)

    app, close = embedded_app()
    content = app.extensions["yjy"].content
    target: Any = Live(args.url, args.token, args.appid, args.aes_key) if args.url else InProcess.of(app)
    try:
        if args.say:
            openid = new_openid()
            for text in args.say:
                reply = _send(target, Case("say", text, [], 0), openid)
                print(f">>> {text}\n[{reply.kind}] {reply.url}\n{reply.text}\n")
            return 0
        judge = Judge(content)
        singles, conversations = load(args.heldout)
        started = time.perf_counter()
        messages, turns, whole = Tally(), Tally(), Tally()
        wrong_language = 0
        for case in singles:
            if args.group and case.group != args.group:
                continue
            judged = run_turns(target, judge, [case])[0]
            messages.add(case.group, judged)
            wrong_language += not judged.lang_ok
        by_group: dict[str, list[Judged]] = defaultdict(list)
        for name, cases in conversations:
            if args.group and cases[0].group != args.group:
                continue
            results = run_turns(target, judge, cases)
            for judged in results:
                turns.add(judged.case.group, judged)
                wrong_language += not judged.lang_ok
            all_ok = len(results) == len(cases) and all(j.ok for j in results)
            whole.add(cases[0].group, Judged(Case(cases[0].group, name, ["all turns"], cases[0].line), None, all_ok,
                                             "" if all_ok else "a turn failed"))
            by_group[name] = results
        seconds = time.perf_counter() - started
    finally:
        close()

    print(f"Understanding benchmark ({target.name}): {sum(messages.total.values())} messages, "
          f"{sum(whole.total.values())} conversations ({sum(turns.total.values())} turns) in {seconds:.1f} s\n")
    print(f"{'group':<16}{'messages':>12}{'turns':>12}")
    for group in sorted(set(messages.total) | set(turns.total)):
        cells = [f"{t.right[group]}/{t.total[group]}" if t.total[group] else "" for t in (messages, turns)]
        print(f"{group:<16}{cells[0]:>12}{cells[1]:>12}")
    print(f"\nmessages: {messages.accuracy():.1%}   conversation turns: {turns.accuracy():.1%}   "
          f"whole conversations: {whole.accuracy():.1%}   replies in the wrong language: {wrong_language}")
    all_right = sum(messages.right.values()) + sum(turns.right.values())
    all_total = sum(messages.total.values()) + sum(turns.total.values())
    print(f"overall (messages + turns): {all_right}/{all_total} = {all_right / max(1, all_total):.1%}")
    failures = messages.failures + turns.failures
    if args.heldout:  # its messages stay unread, so that it keeps measuring what was not tuned to
        print(f"\n{len(failures)} failures in the held-out set (messages not shown); what they got instead:")
        confusion = Counter((f.case.group, f.case.expect[0].partition(":")[0], _kind(f.reply)) for f in failures)
        for (group, wanted, got), n in sorted(confusion.items(), key=lambda item: (item[0][0], -item[1])):
            print(f"  {group:<14} expected {wanted:<14} got {got:<22} x{n}")
        return 0
    if failures:
        print(f"\nfailures ({len(failures)}):")
        for judged in failures if args.verbose else failures[:60]:
            print(_show(judged))
        if not args.verbose and len(failures) > 60:
            print(f"  ... and {len(failures) - 60} more (-v shows all)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
