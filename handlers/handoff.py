"""A person, please: "转人工" / "talk to a human", and complaints ("投诉").

Hand-off: with kf (多客服) enabled, in staff hours and an agent online (asked through the gateway), the
answer is WeChat's passive `transfer_customer_service`, which puts this very message in the agent's
workbench. Otherwise (kf off, nobody online, the API failing, outside hours) the traveler is told when
someone will answer and the request is recorded for staff (`bot.followers.handoff`). Only a user message
can be transferred: a menu click asks for the question first (flow `handoff`), and the question goes on.

Complaint: recorded with what happened, answered with an apology and the 1330 hotline; "我要投诉" alone
first asks what happened (flow `complaint`), and that answer is the complaint. 取消 ends either flow.

kf session events get no reply; when a session closes, the traveler's open requests are closed.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from wechatpy.exceptions import WeChatClientException

from bot.conversation.router import Context, Outcome, Router
from bot.followers import handoff as requests
from bot.followers.staff_hours import StaffHours
from bot.infra import queue
from bot.wechat import replies
from bot.wechat.inbound import Incoming
from bot.wechat.kf_agents import Pick, pick_agent
from bot.wechat.replies import Reply

router = Router("handoff")
log = logging.getLogger(__name__)

HANDOFF_FLOW = "handoff"  # a menu click asked for the question to hand over
COMPLAINT_FLOW = "complaint"  # "我要投诉" alone asked what happened
FLOW_STEP = {HANDOFF_FLOW: "question", COMPLAINT_FLOW: "detail"}
PAUSED_KEY = "paused_flow"  # a flow in progress (a booking) that waits while these ask their question
COMPLAINT_KEY = "complaint_id"  # the complaint recorded when asked, that the detail completes


# --- hand-off --------------------------------------------------------------------------------------
@router.on_intent("handoff", io=True)
def handoff(msg: Incoming, ctx: Context) -> Reply | Outcome:
    if msg.kind == "event" or not (msg.text or "").strip():
        return _ask(ctx, HANDOFF_FLOW, "handoff_ask")
    return _hand_off(msg, ctx, _without_flow(ctx.state))


@router.on_click("HANDOFF", io=True)
def handoff_click(msg: Incoming, ctx: Context) -> Outcome:
    """A menu button: events cannot be transferred to kf, so ask them to type their question."""
    return _ask(ctx, HANDOFF_FLOW, "handoff_ask")


def _any_text(text: str, state: dict[str, Any]) -> bool:
    """Whatever they type next is the question (or what happened): free text, never a digression."""
    return bool(text.strip())


@router.on_step(HANDOFF_FLOW, accepts=_any_text, io=True)
def handoff_question(msg: Incoming, ctx: Context) -> Outcome:
    if msg.kind == "event" or not (msg.text or "").strip():
        return _ask(ctx, HANDOFF_FLOW, "handoff_ask")
    return _hand_off(msg, ctx, _without_flow(ctx.state))


def _hand_off(msg: Incoming, ctx: Context, state: dict[str, Any]) -> Outcome:
    s = ctx.services
    hours = StaffHours.from_config(s.config.handoff)
    now = s.clock.now()
    staffed = hours.is_open(now)
    agent = _agent(ctx, msg) if s.config.handoff.kf_enabled and staffed else None
    if agent is not None and agent.available:
        _record(ctx, msg, "handoff", now, transferred=True)
        return Outcome(replies.transfer_to_customer_service(agent.account), state)
    if _record(ctx, msg, "handoff", now, transferred=False) is None:
        reply = ctx.cards.text("request_not_recorded", ctx.lang, kind="handoff")
        return Outcome(_with_reminder(ctx, reply, state), state)
    reply = ctx.cards.text("handoff_later", ctx.lang, **_when(hours, now))
    return Outcome(_with_reminder(ctx, reply, state), state)


def _agent(ctx: Context, msg: Incoming) -> Pick | None:
    """Who among the kf agents online can take this traveler (None: WeChat could not be asked)."""
    try:
        agents = ctx.services.wechat.online_kf_accounts()
    except WeChatClientException as exc:
        log.warning("could not ask WeChat which kf agents are online for %s (%s): the request is recorded instead",
                    msg.openid, getattr(exc, "errcode", None) or type(exc).__name__)
        return None
    pick = pick_agent(agents)
    if not pick.available:
        log.info("no kf agent can take %s (%d online, %d full): the request is recorded instead",
                 msg.openid, pick.online, pick.full)
    return pick


# --- complaints ------------------------------------------------------------------------------------
@router.on_intent("complaint", io=True)
def complaint(msg: Incoming, ctx: Context) -> Reply | Outcome:
    text = (msg.text or "").strip()
    said = ctx.services.content.understander.intents.exact(text) if text else None
    if not text or (said is not None and said.intent == "complaint"):  # "我要投诉" alone: what happened?
        # Recorded now: a traveler who never says more still reaches staff (with their last messages).
        recorded = _record(ctx, msg, "complaint", ctx.services.clock.now(), transferred=False)
        asked = _ask(ctx, COMPLAINT_FLOW, "complaint_ask")
        if recorded is not None and recorded.id and asked.state is not None:
            asked.state[COMPLAINT_KEY] = recorded.id
        return asked
    return _complain(msg, ctx, _without_flow(ctx.state))


@router.on_step(COMPLAINT_FLOW, accepts=_any_text, io=True)
def complaint_detail(msg: Incoming, ctx: Context) -> Outcome:
    if msg.kind == "event" or not (msg.text or "").strip():
        return _ask(ctx, COMPLAINT_FLOW, "complaint_ask", again=True)
    return _complain(msg, ctx, _without_flow(ctx.state))


def _complain(msg: Incoming, ctx: Context, state: dict[str, Any]) -> Outcome:
    s = ctx.services
    hours = StaffHours.from_config(s.config.handoff)
    now = s.clock.now()
    asked = state.pop(COMPLAINT_KEY, None)
    ref: int | None = None
    if isinstance(asked, int) and _add_detail(ctx, msg, asked):
        ref = asked
    else:
        recorded = _record(ctx, msg, "complaint", now, transferred=False)
        if recorded is None:
            reply = ctx.cards.text("request_not_recorded", ctx.lang, kind="complaint")
            return Outcome(_with_reminder(ctx, reply, state), state)
        ref = recorded.id or None
    reply = ctx.cards.text("complaint_filed", ctx.lang, ref=ref, **_when(hours, now))
    return Outcome(_with_reminder(ctx, reply, state), state)


# --- kf sessions -----------------------------------------------------------------------------------
@router.on_event("kf_create_session", io=True)
def kf_session_opened(msg: Incoming, ctx: Context) -> Reply:
    log.info("kf session opened for %s", msg.openid)
    return replies.no_reply()


@router.on_event("kf_close_session", io=True)
def kf_session_closed(msg: Incoming, ctx: Context) -> Reply:
    requests.close_open(ctx.services.db, msg.openid, ctx.services.clock.now())
    return replies.no_reply()


# --- helpers ---------------------------------------------------------------------------------------
def _ask(ctx: Context, flow: str, template: str, again: bool = False) -> Outcome:
    """Ask for the question (or what happened); a booking in progress is paused, not lost."""
    hours = StaffHours.from_config(ctx.services.config.handoff)
    state = dict(ctx.state)
    other = state.get("flow")
    if other and other not in FLOW_STEP:
        state[PAUSED_KEY] = {"flow": other, "step": state.get("step")}
    state.update(flow=flow, step=FLOW_STEP[flow])
    return Outcome(ctx.cards.text(template, ctx.lang, again=again, **_when(hours, ctx.services.clock.now())), state)


def _without_flow(state: dict[str, Any]) -> dict[str, Any]:
    """The state without this handler's flows; a flow they paused (a booking) is in progress again."""
    if state.get("flow") not in FLOW_STEP:
        return state
    state = {k: v for k, v in state.items() if k not in ("flow", "step")}
    paused = state.pop(PAUSED_KEY, None)
    if isinstance(paused, dict) and paused.get("flow"):
        state.update(flow=paused["flow"], step=paused.get("step"))
    return state


def _with_reminder(ctx: Context, reply: Reply, state: dict[str, Any]) -> Reply:
    """After a complaint or hand-off inside a booking: one line says the booking still waits."""
    if state.get("flow") in (None, *FLOW_STEP) or not isinstance(reply, replies.TextReply):
        return reply
    line = ctx.cards.render("flow_reminder", ctx.lang, flow=state["flow"], step=state.get("step"))
    return replies.text(f"{reply.content}\n\n{line}")


def _add_detail(ctx: Context, msg: Incoming, request_id: int) -> bool:
    try:
        return requests.add_detail(ctx.services.db, request_id, msg.openid, msg.text or "")
    except Exception:  # noqa: BLE001 - recorded anew below; the traveler still gets the answer
        log.exception("could not add the detail to complaint %s of %s", request_id, msg.openid)
        return False


def _record(ctx: Context, msg: Incoming, kind: str, now: datetime, *, transferred: bool) -> requests.Recorded | None:
    """Record the request for staff. With the database down it goes on the job queue, which writes it once the
    database is back (id 0: not known yet); None when neither took it (the reply must not say it was passed on)."""
    fields: dict[str, Any] = dict(openid=msg.openid, kind=kind, text=msg.text or "",
                                  recent=ctx.state.get("recent") or [], lang=ctx.lang, transferred=transferred,
                                  source=msg.dedup_key)
    try:
        return requests.record(ctx.services.db, now=now, **fields)
    except Exception:  # noqa: BLE001 - logged with the delivery, not the text (it may hold a phone number)
        log.exception("could not record the %s request of %s (%s): queued for later", kind, msg.openid,
                      msg.dedup_key)
    try:
        queue.enqueue_handoff_record(ctx.services.queue, {**fields, "now": now.isoformat()})
        return requests.Recorded(0, True)
    except Exception:  # noqa: BLE001 - Redis too: the traveler is told to ask again
        log.exception("could not queue the %s request of %s (%s) either", kind, msg.openid, msg.dedup_key)
        return None


def _when(hours: StaffHours, now: datetime) -> dict[str, Any]:
    """What the templates say about staff hours: in now, or when next (today / tomorrow / a weekday)."""
    start = hours.next_open(now)
    return dict(staffed=hours.is_open(now), days_ahead=hours.days_until(now, start), weekday=start.weekday(),
                at=start.strftime("%H:%M"), hours=hours.label(), days=list(hours.days), every_day=hours.every_day)


