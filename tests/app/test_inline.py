"""Handlers that do no I/O answer on the request's thread; those that do (io=True) in the pool, under the deadline.

A handler registered without io=True that uses the database anyway is answered all the same, from the pool,
and the mistake is logged and counted (the app fixture fails any test that makes one).
"""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import text as sql

import handlers
from bot.conversation.router import Context, Router
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply, text
from tests.support import WeChat

router = Router("threads")
seen: list[tuple[str, str]] = []


@router.fallback()
def where(msg: Incoming, ctx: Context) -> Reply:
    """Says which thread ran it; "db" also reads the database although its route says it does no I/O."""
    seen.append((msg.text, threading.current_thread().name))
    ctx.state["touched"] = ctx.state.get("touched", 0) + 1  # half-done work an inline retry must not keep
    if msg.text == "db":
        with ctx.services.db.session() as session:
            session.execute(sql("SELECT 1"))
    return text(f"ran {msg.text}")


@router.on_intent("help", io=True)
def io_help(msg: Incoming, ctx: Context) -> Reply:
    seen.append((msg.text, threading.current_thread().name))
    return text("help from the pool")


ROUTERS = [router, *(r for r in handlers.ROUTERS if r not in (handlers.fallback.router, handlers.help.router))]


@pytest.fixture
def app(app_factory):  # type: ignore[no-untyped-def]
    seen.clear()
    return app_factory(routers="tests.app.test_inline:ROUTERS")


def test_a_handler_without_io_runs_on_the_request_thread_and_one_with_io_in_the_pool(app) -> None:  # type: ignore[no-untyped-def]
    wechat = WeChat(app)
    assert wechat.say("o-inline", "什么都不是")["Content"] == "ran 什么都不是"
    assert wechat.say("o-inline", "帮助")["Content"] == "help from the pool"
    (inline_text, inline_thread), (pooled_text, pooled_thread) = seen
    assert not inline_thread.startswith("handler")
    assert pooled_thread.startswith("handler")


def test_an_inline_handler_that_uses_the_database_is_answered_from_the_pool_once(app, caplog) -> None:  # type: ignore[no-untyped-def]
    wechat = WeChat(app)
    assert wechat.say("o-inline-db", "db")["Content"] == "ran db"
    pipeline = app.extensions["yjy"].pipeline
    assert pipeline.inline_mistakes == 1
    assert "threads.where: the database used by a handler running inline" in caplog.text
    assert [thread.startswith("handler") for _, thread in seen] == [False, True]  # tried inline, then the pool
    state = app.extensions["yjy"].store.load("o-inline-db")
    assert state["touched"] == 1  # the inline attempt's half-done change was dropped, the pool's kept
    pipeline.inline_mistakes = 0  # made on purpose: the fixture fails tests that make one
