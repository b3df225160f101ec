"""Routing order, the routing table CLI and the db CLI."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.conversation.content import Content
from bot.conversation.intents import IntentMatcher
from bot.conversation.router import Dispatcher, Router, RoutingError
from bot.infra.text import normalize
from bot.infra.yamlfile import SourceError
from bot.wechat.inbound import to_incoming
from bot.wechat.protocol import parse_xml

CONTENT = Path(__file__).resolve().parents[2] / "content"

UNDERSTANDER = Content.load(CONTENT).understander


def message(**fields: str):  # type: ignore[no-untyped-def]
    body = "".join(f"<{k}>{v}</{k}>" for k, v in {"FromUserName": "o1", "CreateTime": "1", **fields}.items())
    return to_incoming(parse_xml(f"<xml>{body}</xml>".encode()))


@pytest.fixture
def dispatcher() -> Dispatcher:
    r = Router("t")
    for name, register in [("flow_any", r.on_step("booking")), ("flow_date", r.on_step("booking", "ask_date")),
                           ("click_help", r.on_click("HELP")), ("subscribe", r.on_event("subscribe")),
                           ("near", r.on_location()), ("help", r.on_intent("help")),
                           ("image", r.on_message("image")), ("fallback", r.fallback())]:
        register(lambda m, c, _n=name: _n).__name__ = name
    return Dispatcher([r], UNDERSTANDER)


def route(d: Dispatcher, msg, state=None) -> str:  # type: ignore[no-untyped-def]
    decision = d.resolve(msg, state or {})
    return decision.route.handler.__name__ if decision.route else "none"


def test_priority_order(dispatcher):
    text_help = message(MsgType="text", Content="帮助")
    assert route(dispatcher, text_help) == "help"
    # A global command wins over a flow in progress; any other text goes to the flow's step.
    assert route(dispatcher, text_help, {"flow": "booking", "step": "ask_date"}) == "help"
    assert route(dispatcher, message(MsgType="text", Content="明天"), {"flow": "booking", "step": "ask_date"}) == "flow_date"
    assert route(dispatcher, message(MsgType="text", Content="2"), {"flow": "booking", "step": "ask_party"}) == "flow_any"
    assert route(dispatcher, message(MsgType="event", Event="CLICK", EventKey="HELP")) == "click_help"
    assert route(dispatcher, message(MsgType="event", Event="subscribe", EventKey="qrscene_x")) == "subscribe"
    assert route(dispatcher, message(MsgType="location", Location_X="37.5", Location_Y="127.0")) == "near"
    assert route(dispatcher, message(MsgType="event", Event="LOCATION", Latitude="37.5", Longitude="127")) == "near"
    assert route(dispatcher, message(MsgType="image", PicUrl="x")) == "image"
    assert route(dispatcher, message(MsgType="text", Content="随便说点什么")) == "fallback"
    assert route(dispatcher, message(MsgType="event", Event="VIEW", EventKey="u")) == "none"
    assert route(dispatcher, message(MsgType="hologram")) == "none"


def test_decision_carries_intent_and_score(dispatcher):
    decision = dispatcher.resolve(message(MsgType="text", Content="ＨＥＬＰ！"), {})
    assert (decision.intent, decision.score, decision.reason) == ("help", 1.0, "global command")
    partial = dispatcher.resolve(message(MsgType="text", Content="请问这个公众号怎么用呢"), {})
    assert partial.intent == "help" and 0 < partial.score < 1


def test_a_long_sentence_mentioning_help_does_not_interrupt_a_flow(dispatcher):
    msg = message(MsgType="text", Content="我想订明天的票需要帮助的话再说吧谢谢你们")
    assert route(dispatcher, msg, {"flow": "booking", "step": "ask_date"}) == "flow_date"


def test_normalize_folds_width_case_and_punctuation():
    assert normalize("  ＨｅＬＰ！？ ") == "help"
    assert normalize("帮 助。") == "帮助"


def test_unknown_intent_in_a_handler_is_a_startup_error():
    r = Router("bad")
    r.on_intent("teleport")(lambda m, c: None)
    with pytest.raises(RoutingError, match="teleport"):
        Dispatcher([r], UNDERSTANDER)


def test_a_route_registered_twice_is_a_startup_error_naming_both_handlers():
    first, second = Router("first"), Router("second")

    def show_help(m, c):  # type: ignore[no-untyped-def]
        return None

    def other_help(m, c):  # type: ignore[no-untyped-def]
        return None

    first.on_intent("help")(show_help)
    second.on_click("MENU_A")(other_help)
    second.on_intent("help")(other_help)
    with pytest.raises(RoutingError, match=r"intent 'help' is registered twice: by first.show_help and by second.other_help"):
        Dispatcher([first, second], UNDERSTANDER)


def test_the_shipped_handlers_make_one_table_in_priority_order():
    import handlers
    from bot.conversation.router import PRIORITY

    rows = Dispatcher(handlers.ROUTERS).rows()
    kinds = [kind for kind, _, _, _ in rows]
    order = [kind for kind, _ in PRIORITY]
    assert kinds == sorted(kinds, key=order.index)
    assert ("fallback", "*", "fallback.not_understood", "inline") in rows
    assert ("intent", "handoff", "handoff.handoff", "pool (io)") in rows


def test_bad_intents_file_names_file_and_line(tmp_path):
    path = tmp_path / "intents.yaml"
    path.write_text("intents:\n  help:\n    exact: 帮助\n")
    with pytest.raises(SourceError) as info:
        IntentMatcher.from_file(path)  # noqa: B018
    assert str(path) in str(info.value) and "line 3" in str(info.value)


def test_broken_template_stops_startup_with_file_and_line(tmp_path):
    from bot.conversation.cards import Cards

    templates = tmp_path / "templates"
    (templates / "zh-CN").mkdir(parents=True)
    (templates / "zh-CN" / "help.txt.j2").write_text("line one\n{% if %}\n")
    (tmp_path / "ui").mkdir()
    (tmp_path / "ui" / "zh-CN.yaml").write_text((CONTENT / "ui" / "zh-CN.yaml").read_text())
    with pytest.raises(SourceError) as info:
        Cards(templates, "https://x")
    assert "help.txt.j2" in str(info.value) and "line 2" in str(info.value)


def test_a_sure_intent_that_does_not_answer_the_step_steps_out_of_the_flow():
    r, other = Router("flow"), Router("other")
    r.on_step("booking", accepts=lambda text, state: text == "明天")(lambda m, c: None)
    other.on_intent("help")(lambda m, c: None)
    other.on_location()(lambda m, c: None)
    d = Dispatcher([r, other], UNDERSTANDER)
    in_flow = {"flow": "booking", "step": "date"}
    # "请问这个公众号怎么用呢" scores low for help: uncertain texts stay with the step
    assert d.resolve(message(MsgType="text", Content="请问这个公众号怎么用呢"), in_flow).route.router == "flow"
    assert d.resolve(message(MsgType="text", Content="明天"), in_flow).route.router == "flow"
    located = d.resolve(message(MsgType="location", Location_X="37.5", Location_Y="127.0"), in_flow)
    assert located.route.router == "other" and located.pending_flow == "booking"
    assert "outside flow booking:date" in located.reason
