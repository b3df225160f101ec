"""Every call this bot makes to WeChat's API, by name: the only module that knows WeChat's endpoints.

`WeChatGateway` wraps the `SharedTokenClient` (wechatpy's client, its token shared through Redis). Where
wechatpy has a method that sends exactly the endpoint and body WeChat documents, it is used; where its body
differs from what we send (mass sends add `send_ignore_reprint` to every message, `upload_articles` drops
`need_open_comment`, a customer-service message is built elsewhere), the call is posted here as is.
Errors are wechatpy's `WeChatClientException` (a timeout or refused connection included, see the client).
"""
from __future__ import annotations

from typing import Any

from bot.wechat.client import SharedTokenClient

Message = dict[str, Any]  # the message part of a body: {"msgtype": "text", "text": {"content": ...}}


class WeChatGateway:
    """Named WeChat API calls; one per process is enough (it holds no state but the client)."""

    def __init__(self, client: SharedTokenClient) -> None:
        self.client = client

    # --- one follower ------------------------------------------------------------------------
    def send_custom(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A customer-service (kf) message: a reply delivered after the passive-reply window."""
        return self.client.post("message/custom/send", data=payload)

    def send_template(self, openid: str, template_id: str, data: dict[str, Any],
                      url: str | None = None) -> dict[str, Any]:
        """A template message (message/template/send), e.g. a booking confirmation."""
        return self.client.message.send_template(openid, template_id, data, url=url)

    def online_kf_accounts(self, timeout: float = 2.0) -> list[dict[str, Any]]:
        """Customer-service (kf) agents online now (GET customservice/getonlinekflist):
        [{"kf_account": "test1@test", "status": 1, "kf_id": "1001", "auto_accept": 0, "accepted_case": 1}].

        Asked while a traveler waits for the passive reply, hence the short `timeout`.
        """
        result = self.client.get("customservice/getonlinekflist", timeout=timeout)
        return [a for a in (result or {}).get("kf_online_list") or [] if isinstance(a, dict)]

    # --- mass sends (群发) ----------------------------------------------------------------------
    def send_mass(self, message: Message, *, clientmsgid: str, openids: list[str] | None = None,
                  tag_id: int | None = None, to_all: bool = False) -> dict[str, Any]:
        """One mass-send call to an openid list (2 to 10,000), a tag, or every follower.

        `clientmsgid` makes a retried call safe: WeChat refuses one it saw in the last 24 h (45065).
        """
        if sum((openids is not None, tag_id is not None, to_all)) != 1:
            raise ValueError("send to exactly one of: openids, tag_id, to_all")
        if openids is not None:
            return self.client.post("message/mass/send",
                                    data={"touser": openids, **message, "clientmsgid": clientmsgid})
        target = {"is_to_all": True} if to_all else {"is_to_all": False, "tag_id": tag_id}
        return self.client.post("message/mass/sendall", data={"filter": target, **message, "clientmsgid": clientmsgid})

    def preview_mass(self, openid: str, message: Message) -> dict[str, Any]:
        """A mass message sent to one follower only (a marketer's own phone), counted in no quota."""
        return self.client.post("message/mass/preview", data={"touser": openid, **message})

    # --- material ------------------------------------------------------------------------------
    def upload_news(self, articles: list[dict[str, Any]]) -> str:
        """Upload mpnews articles for a mass send; their media_id (WeChat keeps it 3 days)."""
        return str(self.client.post("media/uploadnews", data={"articles": articles})["media_id"])

    def add_thumb(self, name: str, data: bytes) -> str:
        """Upload a JPEG thumbnail as permanent material; its media_id."""
        result = self.client.material.add("thumb", (name, data, "image/jpeg"))
        return str(result["media_id"])

    # --- tags ----------------------------------------------------------------------------------
    def get_tags(self) -> list[dict[str, Any]]:
        """The account's tags: [{"id": 100, "name": ..., "count": ...}].

        Posted, as this bot always has (wechatpy's `tag.get` uses GET, which WeChat documents too).
        """
        return list(self.client.post("tags/get").get("tags") or [])

    def create_tag(self, name: str) -> int:
        """Create a tag; its id."""
        return int(self.client.tag.create(name)["id"])

    def tag_members(self, tag_id: int, openids: list[str]) -> None:
        """Tag up to 50 followers (tags/members/batchtagging)."""
        self.client.tag.tag_user(tag_id, openids)

    # --- QR codes -------------------------------------------------------------------------------
    def create_permanent_qrcode(self, scene: str) -> dict[str, Any]:
        """A permanent QR code whose scan or follow brings `scene` (1-64 characters) in its events (POST
        qrcode/create, QR_LIMIT_STR_SCENE): {"ticket": ..., "url": <what the code encodes>}."""
        return dict(self.client.post("qrcode/create", data={
            "action_name": "QR_LIMIT_STR_SCENE", "action_info": {"scene": {"scene_str": scene}}}))

    # --- menu ----------------------------------------------------------------------------------
    def create_menu(self, body: dict[str, Any]) -> None:
        """Replace the account's custom menu with `body` ({"button": [...]})."""
        self.client.menu.create(body)
