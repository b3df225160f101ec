"""Reply objects (wechatpy's) and their two ways out: passive XML and customer-service JSON.

wechatpy puts field values into CDATA sections verbatim, so a value containing "]]>" would end the
section early and break (or inject into) the reply XML. `render_xml` splits every such sequence.
"""
from __future__ import annotations

import copy
import logging
import time
from typing import Any

from wechatpy.replies import ArticlesReply, BaseReply, EmptyReply, TextReply, TransferCustomerServiceReply

SUCCESS = "success"  # WeChat shows nothing and does not retry
MAX_TEXT_BYTES = 2048  # WeChat's limit on a text message's content, in UTF-8 bytes (about 680 汉字)
TRIMMED_MARK = "\n……"  # ends a text cut to that limit; the conversation tests fail on it

Reply = BaseReply
log = logging.getLogger(__name__)


def text(content: str) -> TextReply:
    return TextReply(content=fit_text(content))


def fit_text(content: str, limit: int = MAX_TEXT_BYTES) -> str:
    """`content` within WeChat's limit, cut at a line end: shortened beats "该公众号暂时无法提供服务"."""
    data = content.encode("utf-8")
    if len(data) <= limit:
        return content
    log.warning("text reply of %d bytes cut to WeChat's %d: %r...", len(data), limit, content[:60])
    head = data[:limit - len(TRIMMED_MARK.encode("utf-8"))].decode("utf-8", "ignore")
    return (head[:head.rindex("\n")] if "\n" in head else head).rstrip() + TRIMMED_MARK


def news(title: str, description: str, url: str, image: str = "") -> ArticlesReply:
    """One-article news card: since 2018 WeChat shows only the first article of a passive reply."""
    return ArticlesReply(articles=[{"title": title, "description": description, "url": url, "image": image}])


def transfer_to_customer_service(account: str | None = None) -> TransferCustomerServiceReply:
    """Hand this user message to WeChat's kf (多客服) system: it appears in an online agent's workbench
    (`account`: that agent's, when one is known to have room; else the shared waiting queue).

    Only a passive reply to a user message can do this (never to an event), and it has no customer-service
    API form: `to_customer_service` gives None for it.
    """
    reply = TransferCustomerServiceReply()
    reply.kf_account = account  # wechatpy does not render TransInfo: render_xml adds it
    return reply


def is_transfer(reply: BaseReply | None) -> bool:
    return isinstance(reply, TransferCustomerServiceReply)


def no_reply() -> EmptyReply:
    return EmptyReply()


def is_empty(reply: BaseReply | None) -> bool:
    return reply is None or isinstance(reply, EmptyReply)


def cdata_safe(value: Any) -> Any:
    """Escape "]]>" in every string, recursively, so it survives inside a CDATA section."""
    if isinstance(value, str):
        return value.replace("]]>", "]]]]><![CDATA[>")
    if isinstance(value, dict):
        return {k: cdata_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [cdata_safe(v) for v in value]
    return value


def render_xml(reply: BaseReply, *, to_user: str, from_account: str) -> str:
    """The passive reply body for WeChat, or "success" when there is nothing to say."""
    if is_empty(reply):
        return SUCCESS
    out = copy.copy(reply)
    out._data = cdata_safe(dict(reply._data))
    out._data.update(ToUserName=cdata_safe(to_user), FromUserName=cdata_safe(from_account),
                     CreateTime=int(time.time()))
    body = out.render()
    account = getattr(reply, "kf_account", None)
    if isinstance(reply, TransferCustomerServiceReply) and account:  # aimed at one agent (WeChat's TransInfo)
        body = body.replace("</xml>", f"<TransInfo><KfAccount><![CDATA[{cdata_safe(account)}]]></KfAccount>"
                                      "</TransInfo>\n</xml>")
    return body


def to_customer_service(reply: BaseReply, openid: str) -> dict[str, Any] | None:
    """The same reply as a customer-service (kf) message body, for delivery after the deadline.

    None for what has no such form: no reply, or a transfer to kf (only a passive reply transfers)."""
    if isinstance(reply, TransferCustomerServiceReply):
        return None
    if isinstance(reply, TextReply):
        return {"touser": openid, "msgtype": "text", "text": {"content": reply.content}}
    if isinstance(reply, ArticlesReply) and reply.articles:
        article = reply.articles[0]  # kf news also shows one article
        return {"touser": openid, "msgtype": "news", "news": {"articles": [{
            "title": article.get("title", ""), "description": article.get("description", ""),
            "url": article.get("url", ""), "picurl": article.get("image", ""),
        }]}}
    return None
