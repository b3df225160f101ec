"""Global commands that work in any state: 取消 / 退出, 语言 / English."""
from __future__ import annotations

from bot.bookings.draft import LEGACY_KEY, STATE_KEY
from bot.conversation.router import Context, Outcome, Router
from bot.followers import records as followers
from bot.infra.text import normalize
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("commands")
FLOW_KEYS = ("flow", "step", "want_category", STATE_KEY, LEGACY_KEY)  # what 取消 forgets
ENGLISH = {"english", "英文", "英语"}
CHINESE = {"中文", "简体中文", "汉语", "chinese"}


@router.on_intent("cancel")
def cancel(msg: Incoming, ctx: Context) -> Outcome:
    had_flow = any(key in ctx.state for key in FLOW_KEYS)
    state = {k: v for k, v in ctx.state.items() if k not in FLOW_KEYS}
    return Outcome(ctx.cards.text("cancelled", ctx.lang, had_flow=had_flow), state)


@router.on_intent("language", io=True)
def language(msg: Incoming, ctx: Context) -> Reply:
    word = normalize(msg.text)
    if word in ENGLISH:
        lang = "en"
    elif word in CHINESE:
        lang = "zh-CN"
    else:  # "语言" / "language": switch to the other one
        lang = "zh-CN" if ctx.lang == "en" else "en"
    ctx.state["lang"], ctx.state["lang_chosen"] = lang, True
    followers.set_language(ctx.services.db, msg.openid, lang)
    return ctx.cards.text("language_set", lang)
