"""Routing: which handler answers a message.

Each `handlers/<x>.py` owns a small `Router` and registers its functions with decorators; the
`Dispatcher` merges them into one table and resolves a message by `PRIORITY`, the one place that
says what wins (printed by `flask --app wsgi routing`). A route (kind + value) belongs to exactly one
handler: registering it twice is an error at start-up, never a silent shadow.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable

from bot.conversation import followups
from bot.conversation.followups import FollowupWords
from bot.conversation.nlu import Understander
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

log = logging.getLogger(__name__)


@dataclass
class Context:
    """What a handler gets besides the message. Handlers do no I/O of their own beyond these."""

    state: dict[str, Any]
    lang: str
    cards: Any  # bot.cards.Cards
    services: Any  # bot.services.Services
    intent: str = ""
    captures: dict[str, Any] = field(default_factory=dict)
    openid: str = ""


@dataclass
class Outcome:
    """A reply plus the state to keep (None forgets the conversation)."""

    reply: Reply
    state: dict[str, Any] | None


Handler = Callable[[Incoming, Context], "Reply | Outcome"]


# Whether a text answers the question a flow's step asks (see Router.on_step).
Accepts = Callable[[str, dict[str, Any]], bool]
# An intent this sure takes a message out of a flow's step, unless the step takes the text as its answer.
DIGRESSION_SCORE = 0.9


@dataclass(frozen=True)
class Route:
    kind: str  # step | event | click | location | intent | message | fallback
    value: str
    handler: Handler
    router: str
    accepts: Accepts | None = field(default=None, compare=False)
    io: bool = False  # the handler does blocking I/O (database, WeChat API): it runs in the pool, under the deadline

    @property
    def name(self) -> str:
        return f"{self.router}.{self.handler.__name__}"


class Router:
    """Collects one handler module's routes."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.routes: list[Route] = []

    # Every registration takes `io=True` for a handler that uses the database or the WeChat API (bot/infra/inline.py).
    def _add(self, kind: str, values: Iterable[str], accepts: Accepts | None = None,
             io: bool = False) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for value in values:
                self.routes.append(Route(kind, value, handler, self.name, accepts, io))
            return handler
        return register

    def on_intent(self, *intents: str, io: bool = False) -> Callable[[Handler], Handler]:
        return self._add("intent", intents, io=io)

    def on_event(self, *events: str, io: bool = False) -> Callable[[Handler], Handler]:
        """Event names in lower case: subscribe, scan, unsubscribe, view, masssendjobfinish ..."""
        return self._add("event", [e.lower() for e in events], io=io)

    def on_click(self, *keys: str, io: bool = False) -> Callable[[Handler], Handler]:
        """Custom-menu CLICK keys (content/menu.yaml); "CAT_*" takes every key with that prefix."""
        return self._add("click", keys, io=io)

    def on_location(self, io: bool = False) -> Callable[[Handler], Handler]:
        return self._add("location", ["*"], io=io)

    def on_step(self, flow: str, step: str = "*", accepts: Accepts | None = None,
                io: bool = False) -> Callable[[Handler], Handler]:
        """The flow's next message. `accepts(text, state)` says whether a text answers the current step: one
        that does not, and is confidently something else, is answered as that instead (the flow waits)."""
        return self._add("step", [f"{flow}:{step}"], accepts, io)

    def on_message(self, *kinds: str, io: bool = False) -> Callable[[Handler], Handler]:
        """Message kinds with no text to understand: image, video, link, file ..."""
        return self._add("message", kinds, io=io)

    def fallback(self, io: bool = False) -> Callable[[Handler], Handler]:
        return self._add("fallback", ["*"], io=io)


# The order in which a message finds its handler: the first step that matches answers.
PRIORITY: tuple[tuple[str, str], ...] = (
    ("global", "a global command in the text (帮助, 取消 ...) wins over everything"),
    ("step", "the flow in progress (state flow + step), unless the text does not answer the step and is surely "
             "something else: a menu click, an event, a location, an intent scoring >= DIGRESSION_SCORE"),
    ("click", "a custom-menu CLICK key (exact, then PREFIX_*)"),
    ("event", "any other event, by name"),
    ("location", "a location message, LOCATION event or location_select"),
    ("intent", "a text intent from content/intents.yaml"),
    ("message", "the message kind (image, link, ...)"),
    ("fallback", "text nothing else understood"),
)
_KIND_ORDER = {kind: n for n, (kind, _) in enumerate(PRIORITY)}


class RoutingError(ValueError):
    """The handlers' routes do not make one table (a route twice, an intent content does not know)."""


@dataclass(frozen=True)
class Decision:
    route: Route | None
    reason: str
    intent: str = ""
    score: float = 0.0
    captures: dict[str, Any] = field(default_factory=dict)
    pending_flow: str = ""  # a flow in progress this message stepped out of (its reply reminds the traveler)


class Dispatcher:
    """The merged routing table of the handlers' routers (in `handlers.ROUTERS` order)."""

    def __init__(self, routers: Iterable[Router], understander: Understander | None = None,
                 followup_words: FollowupWords | None = None) -> None:
        self._followup_words = followup_words or FollowupWords()
        self.table: dict[tuple[str, str], Route] = {}
        for router in routers:
            for route in router.routes:
                key = (route.kind, route.value)
                if key in self.table:
                    raise RoutingError(f"{route.kind} {route.value!r} is registered twice: by "
                                       f"{self.table[key].name} and by {route.name}")
                self.table[key] = route
        if understander is not None:
            unknown = {value for kind, value in self.table if kind == "intent"} - set(understander.names)
            if unknown:
                raise RoutingError(f"handlers register intents missing from content/intents.yaml: {sorted(unknown)}")
        self._understander = understander

    @property
    def understander(self) -> Understander:
        if self._understander is None:
            raise RuntimeError("this dispatcher was built without an understander (routing table only)")
        return self._understander

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(kind, value, handler, where it runs) in priority order, for the routing-table CLI command."""
        ordered = sorted(self.table.items(), key=lambda item: _KIND_ORDER[item[0][0]])
        return [(kind, value, route.name, "pool (io)" if route.io else "inline") for (kind, value), route in ordered]

    def resolve(self, msg: Incoming, state: dict[str, Any]) -> Decision:
        match = self.understander.understand(msg.text) if msg.text else None
        if msg.text:  # "1" after "你是想问…？", "那500呢" after a conversion
            match = followups.resolve(match, msg.text, state, self.understander, self._followup_words)
        if match and match.is_global and ("intent", match.intent) in self.table:
            return self._intent(match, "global command")
        flow, step = state.get("flow"), state.get("step")
        if flow:
            route = self.table.get(("step", f"{flow}:{step}")) or self.table.get(("step", f"{flow}:*"))
            if route:
                other = self._outside_flow(msg, match, route, state)
                if other is None:
                    return Decision(route, f"flow {flow}:{step}")
                return replace(other, reason=f"{other.reason}, outside flow {flow}:{step}", pending_flow=str(flow))
        if msg.kind == "event":
            if msg.event == "click":
                route = self.table.get(("click", msg.key)) or self._click_prefix(msg.key)
                if route:
                    return Decision(route, f"menu {msg.key}")
            if ("event", msg.event) in self.table:
                return Decision(self.table[("event", msg.event)], f"event {msg.event}")
        if msg.location and ("location", "*") in self.table:
            return Decision(self.table[("location", "*")], "location")
        if match and ("intent", match.intent) in self.table:
            return self._intent(match, "intent")
        if msg.kind == "event":
            return Decision(None, f"no handler for event {msg.event or '?'}")
        if ("message", msg.kind) in self.table:
            return Decision(self.table[("message", msg.kind)], f"kind {msg.kind}")
        if not msg.known:
            return Decision(None, f"unknown message type {msg.kind}")
        return Decision(self.table.get(("fallback", "*")), "fallback")

    def _outside_flow(self, msg: Incoming, match: Any, step: Route, state: dict[str, Any]) -> Decision | None:
        """What a message in a flow is instead of the step's answer, if it surely is something else.

        The one rule for every flow: a menu click or event another handler answers, a location, or a text the
        step does not take (`accepts`) that names another handler's intent with a high score. The flow's own
        words (确认, 订X, 改成...) and everything uncertain stay with the step.
        """
        if msg.kind == "event" and msg.event == "click":
            route = self.table.get(("click", msg.key)) or self._click_prefix(msg.key)
            return Decision(route, f"menu {msg.key}") if route and route.router != step.router else None
        if msg.location and ("location", "*") in self.table:
            return Decision(self.table[("location", "*")], "location")
        if msg.kind == "event" and ("event", msg.event) in self.table:
            return Decision(self.table[("event", msg.event)], f"event {msg.event}")
        if not (match and match.score >= DIGRESSION_SCORE and ("intent", match.intent) in self.table):
            return None
        if self.table[("intent", match.intent)].router == step.router:
            return None
        if step.accepts is not None and step.accepts(msg.text, state):
            return None
        return self._intent(match, "intent")

    def answers_click(self, key: str) -> bool:
        """Whether a menu key reaches a handler (else the traveler would get the fallback reply)."""
        return ("click", key) in self.table or self._click_prefix(key) is not None

    def _click_prefix(self, key: str) -> Route | None:
        """Menu keys registered as "PREFIX_*" (one handler for a family of keys, e.g. CAT_FOOD)."""
        for (kind, value), route in self.table.items():
            if kind == "click" and value.endswith("*") and key.startswith(value[:-1]):
                return route
        return None

    def _intent(self, match: Any, reason: str) -> Decision:
        return Decision(self.table[("intent", match.intent)], reason, match.intent, match.score, match.captures)
