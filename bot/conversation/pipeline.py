"""One message's trip after the webhook has verified and parsed it.

claim (dedup + state, one Redis round trip) → understand and route → handler → render → finish (cache reply +
save state, one round trip). A handler that does no I/O runs on the request's thread; one that does (its route
says `io=True`) runs in the handler pool under the reply deadline: past it, WeChat is answered "success" now
and the reply follows through the customer-service API on the job queue.
"""
from __future__ import annotations

import functools
import json
import logging
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ContextManager

from wechatpy.replies import ArticlesReply, TextReply, TransferCustomerServiceReply

from bot.conversation.language import detect
from bot.conversation.router import Context, Decision, Outcome
from bot.conversation.state import Claim
from bot.followers import handoff as requests
from bot.followers import records as followers
from bot.infra import inline, metrics, queue
from bot.infra.text import mask_numbers
from bot.insights import events as insight_events
from bot.wechat import replies
from bot.wechat.inbound import Incoming
from bot.wechat.replies import SUCCESS, Reply

if TYPE_CHECKING:
    from bot.services import Services

log = logging.getLogger(__name__)

# Sent by WeChat itself (FromUserName is not a traveler): no follower record, no conversation state.
SYSTEM_EVENTS = frozenset({"masssendjobfinish", "templatesendjobfinish"})
DEFAULT_LANG = "zh-CN"
RECENT_MESSAGES = 5  # the traveler's last texts kept in the state (digits masked) for a hand-off
# Intents that only mean something against the conversation so far ("确认", "2", "继续"): with the state out
# of reach (Redis down) they get "try again in a moment", never a wrong "nothing to confirm".
LANGUAGE_READ_SECONDS = 0.5  # a follower's stored language, waited for at most this long
CONFLICT_ATTEMPTS = 3  # a message answered again on the fresh state when another one saved it first
NEEDS_STATE = frozenset({"confirm", "agree", "edit", "resume", "pick", "more"})
LIFECYCLE = frozenset({"subscribe", "unsubscribe"})  # written to the follower row before the handler runs

Result = tuple[Reply, "dict[str, Any] | None"]


@dataclass
class Turn:
    """One message understood, before its handler runs."""

    state: dict[str, Any]  # a copy of the conversation state, for the handler to change
    decision: Decision
    lang: str
    early: Result | None = None  # answered without a handler (no route, state unavailable)
    spoiled: bool = False  # an inline attempt stopped halfway (BlockingCall): the state may be half changed
    failed: bool = False  # the handler raised: the traveler got an apology, not an answer


AppContext = Callable[[], ContextManager[Any]]


class Pipeline:
    def __init__(self, services: Services, app_context: AppContext) -> None:
        # Handler threads have no app context of their own, and jobs the embedded queue runs inline need
        # one: the web layer hands in how to enter it (Flask's `app.app_context`), so this module stays
        # free of Flask.
        self.app_context = app_context
        self.s = services
        self.deadline = services.config.webhook.reply_deadline_seconds
        self.inline_mistakes = 0  # inline handlers that tried blocking I/O (tests check it stays 0)

    def handle(self, msg: Incoming) -> str:
        """The passive reply body for `msg` (XML, or "success"). Never raises."""
        if not msg.openid:
            log.warning("message without FromUserName ignored (%s)", msg.describe())
            return SUCCESS
        claim = self.s.store.claim(msg.dedup_key, msg.openid)
        metrics.claimed(claim)
        if not claim.first:
            log.info("retry of %s: %s", msg.dedup_key, "cached reply" if claim.cached_reply else "still running")
            return claim.cached_reply or SUCCESS
        deadline = time.monotonic() + self.deadline
        for attempt in range(1, CONFLICT_ATTEMPTS + 1):
            turn = self._begin(msg, claim)
            result = turn.early or self._inline(msg, turn)
            if result is None:  # a handler that does I/O: in the pool, which the deadline can give up on
                if turn.spoiled:  # an inline attempt began changing this turn's state: begin again
                    turn = self._begin(msg, claim)
                future = self.s.pool.submit(self._in_pool, msg, turn)
                try:
                    result = future.result(timeout=max(0.0, deadline - time.monotonic()))
                except FutureTimeout:
                    log.warning("handler for %s missed the %.1f s deadline: answering success, reply follows via kf",
                                msg.dedup_key, self.deadline)
                    metrics.late(msg.kind, turn.decision.route)
                    if not claim.degraded:
                        self.s.store.mark_late(msg.dedup_key)
                    future.add_done_callback(functools.partial(self._finish_late, msg, claim, turn))
                    return SUCCESS
            reply, state = result
            body = replies.render_xml(reply, to_user=msg.openid, from_account=msg.account)
            if claim.degraded or msg.event in SYSTEM_EVENTS:
                metrics.replied(msg.kind, turn.decision.route, body)
                return body
            last = attempt == CONFLICT_ATTEMPTS
            if self.s.store.finish(msg.dedup_key, msg.openid, state, claim.rev, body, cache_on_conflict=False,
                                   event=self._insight(msg, turn)):
                metrics.replied(msg.kind, turn.decision.route, body)
                return body
            # Another message of this traveler saved the conversation meanwhile (they sent several at once): this
            # reply may promise what the saved state does not keep. Read it again and answer on it.
            fresh = self._reload(msg)
            if fresh is None or last:
                break
            claim = Claim(first=True, state=fresh)
        lang = (state or {}).get("lang") or DEFAULT_LANG
        body = replies.render_xml(self.s.cards.text("state_conflict", lang), to_user=msg.openid,
                                  from_account=msg.account)
        self.s.store.cache_reply(msg.dedup_key, body)
        metrics.conflict(msg.kind, turn.decision.route)
        return body

    def _reload(self, msg: Incoming) -> dict[str, Any] | None:
        try:
            return self.s.store.load(msg.openid)
        except Exception:  # noqa: BLE001 - Redis went away between two calls
            log.exception("could not reload the state of %s after a conflict", msg.openid)
            return None

    # --- on the web thread: understanding, and the handlers that do no I/O ------------------------
    def _begin(self, msg: Incoming, claim: Claim) -> Turn:
        """Everything before the handler; it waits for nothing but a stored language (bounded)."""
        state = json.loads(json.dumps(claim.state))  # a copy the handler may change (JSON: faster than deepcopy)
        if msg.event not in SYSTEM_EVENTS and msg.event not in LIFECYCLE:
            self._touch_follower(msg, state, claim.degraded)
        decision = self.s.dispatcher.resolve(msg, state)
        log.info("route %s %s from %s -> %s (%s%s)", msg.describe(), msg.dedup_key, msg.openid,
                 decision.route.name if decision.route else "no reply", decision.reason,
                 f", intent={decision.intent} score={decision.score:.2f}" if decision.intent else "")
        if decision.route is None:
            return Turn(state, decision, DEFAULT_LANG, early=(replies.no_reply(), state))
        if msg.text:  # what staff see of the conversation when the traveler asks for a person
            state["recent"] = [*state.get("recent", [])[-(RECENT_MESSAGES - 1):], mask_numbers(msg.text[:120])]
        lang = self._language(msg, state, claim.degraded)
        state["lang"] = lang
        if claim.degraded and self._needs_state(msg, decision.intent):
            log.warning("state unavailable for %s (%s): asked to try again", msg.dedup_key, decision.intent)
            return Turn(state, decision, lang, early=(self.s.cards.text("state_unavailable", lang), state))
        return Turn(state, decision, lang)

    def _inline(self, msg: Incoming, turn: Turn) -> Result | None:
        """The handler on this thread, if its route does no I/O; None: run it in the pool."""
        assert turn.decision.route is not None
        if turn.decision.route.io or msg.event in LIFECYCLE:
            return None
        try:
            with inline.running_inline():
                return self._answer(msg, turn)
        except inline.BlockingCall as exc:
            # A route that should say io=True: answered from the pool all the same, on a state it has not touched.
            self.inline_mistakes += 1
            log.error("%s: %s; answered from the handler pool (register the route with io=True)",
                      turn.decision.route.name, exc)
            turn.spoiled = True
            return None

    # --- in a handler thread --------------------------------------------------------------------
    def _in_pool(self, msg: Incoming, turn: Turn) -> Result:
        with self.app_context():
            return self._answer(msg, turn)

    def _answer(self, msg: Incoming, turn: Turn) -> Result:
        """The route's handler on the turn's state, with the flow reminder; a failing handler is an apology."""
        route, state, lang = turn.decision.route, turn.state, turn.lang
        assert route is not None
        if msg.event in LIFECYCLE:  # before the handler: the welcome depends on it
            self._record_lifecycle(msg, state)
        ctx = Context(state=state, lang=lang, cards=self.s.cards, services=self.s,
                      intent=turn.decision.intent, captures=dict(turn.decision.captures), openid=msg.openid)
        try:
            result = route.handler(msg, ctx)
        except inline.BlockingCall:
            raise
        except Exception:  # noqa: BLE001 - a handler bug must become an apology, never a 500
            log.exception("handler %s failed on %s", route.name, msg.dedup_key)
            metrics.handler_failed(route)
            turn.failed = True
            return self.s.cards.text("apology", lang), state
        reply, new_state = (result.reply, result.state) if isinstance(result, Outcome) else (result, ctx.state)
        pending = turn.decision.pending_flow
        if pending and new_state and new_state.get("flow") == pending:
            # Answered something else in the middle of a flow: one line says the flow is still waiting.
            reminder = self.s.cards.text("flow_reminder", lang, flow=new_state["flow"], step=new_state.get("step"))
            reply = _with_footer(reply, reminder.content)
        return reply, new_state

    def _needs_state(self, msg: Incoming, intent: str) -> bool:
        if intent in NEEDS_STATE:
            return True
        said = self.s.dispatcher.understander.intents.exact(msg.text) if msg.text else None  # "继续": no route
        return said is not None and said.intent in NEEDS_STATE

    def _language(self, msg: Incoming, state: dict[str, Any], degraded: bool) -> str:
        """A language the traveler chose wins (语言 / English, kept in the state and on the follower row);
        otherwise the language this message is written in, else the conversation's so far."""
        if state.get("lang_chosen"):
            return str(state["lang"])
        if "lang" not in state:  # a new conversation: did this follower choose a language before?
            stored = self._follower_language(msg, degraded)
            if stored != DEFAULT_LANG:  # followers start in zh-CN: any other language was chosen
                state["lang_chosen"] = True
                return stored
        return detect(msg.text, first="lang" not in state) or state.get("lang") or DEFAULT_LANG

    def _follower_language(self, msg: Incoming, degraded: bool) -> str:
        """The follower's chosen language, read once per conversation (then it lives in the state), waited for
        briefly: a stalled database costs the traveler a reply in Chinese, not the reply."""
        if not degraded and msg.event not in SYSTEM_EVENTS:
            try:
                found = self.s.background.call(followers.language, self.s.db, msg.openid,
                                               timeout=LANGUAGE_READ_SECONDS)
                return found or DEFAULT_LANG
            except FutureTimeout:
                log.warning("the language of %s was not read within %.1f s: default used", msg.openid,
                            LANGUAGE_READ_SECONDS)
            except Exception:  # noqa: BLE001 - a reply in Chinese beats no reply
                log.exception("could not read the language of %s", msg.openid)
        return DEFAULT_LANG

    def _touch_follower(self, msg: Incoming, state: dict[str, Any], degraded: bool) -> None:
        """Activity at most every `touch_every_seconds`, in the background: no reply waits for the database to
        note a visit."""
        now = int(time.time())
        if degraded or now - int(state.get("seen", 0)) < self.s.config.follower_touch_seconds:
            return
        if self.s.background.submit("follower activity", followers.record, self.s.db, msg):
            state["seen"] = now

    def _record_lifecycle(self, msg: Incoming, state: dict[str, Any]) -> None:
        """Subscribe / unsubscribe now, in the handler's thread: the welcome depends on them."""
        try:
            followers.record(self.s.db, msg)
            state["seen"] = int(time.time())
        except Exception:  # noqa: BLE001 - the reply matters more; the next message retries
            log.exception("follower update failed for %s", msg.dedup_key)

    def _finish_late(self, msg: Incoming, claim: Claim, turn: Turn, done: Future) -> None:
        reply, state = done.result()
        if not claim.degraded:  # the event now: only a finished handler says whether it answered
            self.s.store.finish(msg.dedup_key, msg.openid, state, claim.rev, SUCCESS, event=self._insight(msg, turn))
        if isinstance(reply, TransferCustomerServiceReply):
            reply = self._late_transfer(msg, state)
        payload = replies.to_customer_service(reply, msg.openid)
        if payload is None:
            return
        try:
            with self.app_context():
                queue.enqueue_late_reply(self.s.queue, msg.openid, payload, msg.dedup_key)
        except Exception:  # noqa: BLE001 - runs in a callback thread: log, do not lose silently
            log.exception("could not queue the late reply for %s", msg.dedup_key)

    def _insight(self, msg: Incoming, turn: Turn) -> str | None:
        """The message as an insight event, saved with its reply (no Redis call of its own); never costs the reply.
        With Redis down (degraded) nothing is saved, so nothing is counted."""
        route = turn.decision.route
        try:
            return insight_events.for_message(msg, route=route.name if route else "", intent=turn.decision.intent,
                                              lang=turn.lang, secret=self.s.config.bookings.link_secret,
                                              at=self.s.clock.now(), failed=turn.failed)
        except Exception:  # noqa: BLE001 - counting must never cost an answer
            log.exception("insight event of %s not built", msg.dedup_key)
            return None

    def _late_transfer(self, msg: Incoming, state: dict[str, Any] | None) -> Reply:
        """A transfer to kf that missed the deadline cannot happen any more (only a passive reply transfers):
        the request is left for staff, and the traveler is told so by a customer-service message."""
        try:
            with self.app_context():
                requests.not_transferred(self.s.db, msg.dedup_key)
        except Exception:  # noqa: BLE001 - the message to the traveler matters more
            log.exception("could not mark the late transfer of %s as not transferred", msg.dedup_key)
        return self.s.cards.text("handoff_late", (state or {}).get("lang") or DEFAULT_LANG)


def _with_footer(reply: Reply, line: str) -> Reply:
    """`reply` with `line` after its text (a text reply) or its first article's description (news)."""
    if isinstance(reply, TextReply):
        return replies.text(f"{reply.content}\n\n{line}")
    if isinstance(reply, ArticlesReply) and reply.articles:
        first = dict(reply.articles[0])
        first["description"] = f"{first.get('description', '')}\n{line}".strip()
        reply.articles = [first, *reply.articles[1:]]
    return reply
