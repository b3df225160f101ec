"""Practical-info cards: visa, emergency numbers, exchange, payments, transit, SIM."""
from __future__ import annotations

from bot.conversation.router import Context, Router
from bot.wechat.inbound import Incoming
from bot.wechat.replies import Reply

router = Router("info")


@router.on_intent("info")
@router.on_click("INFO_*")
def info_card(msg: Incoming, ctx: Context) -> Reply:
    topics = ctx.services.content.topics.items
    topic_id = ctx.captures.get("topic") or msg.key[len("INFO_"):].lower()
    topic = topics.get(topic_id)
    if topic is None:
        return ctx.cards.text("fallback", ctx.lang, kind=msg.kind)
    url = f"{ctx.cards.public_base_url}/p/info/{topic.id}" + ("?lang=en" if ctx.lang == "en" else "")
    return ctx.cards.news("info", ctx.lang, topic=topic, url=url)
