"""The WeChat gateway against the fake WeChat API over real HTTP: each named call goes to WeChat's documented
endpoint with the documented body, and no other module names an endpoint."""

from __future__ import annotations

import pytest
from wechatpy.exceptions import WeChatClientException

from bot.wechat.gateway import WeChatGateway

JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 200

TEXT = {"msgtype": "text", "text": {"content": "首尔下雪啦"}}


@pytest.fixture
def gateway(app, fake_api) -> WeChatGateway:  # type: ignore[no-untyped-def]
    fake_api.reset()
    return WeChatGateway(app.extensions["yjy"].api)


def test_customer_service_and_template_messages(gateway, fake_api):
    payload = {"touser": "o-kf", "msgtype": "text", "text": {"content": "晚到的回复"}}
    gateway.send_custom(payload)
    (kf,) = fake_api.calls_to("message/custom/send")
    assert kf.body == payload and kf.query["access_token"].startswith("TOKEN_")

    gateway.send_template("o-tpl", "TPL_1", {"first": {"value": "已确认"}}, url="https://yjy.example.com/p/b")
    (tpl,) = fake_api.calls_to("message/template/send")
    assert tpl.body == {"touser": "o-tpl", "template_id": "TPL_1", "url": "https://yjy.example.com/p/b",
                        "data": {"first": {"value": "已确认"}}}


def test_mass_sends_by_openids_tag_and_to_all_carry_their_clientmsgid(gateway, fake_api):
    gateway.send_mass(TEXT, clientmsgid="yjy-1-0", openids=["o1", "o2"])
    gateway.send_mass(TEXT, clientmsgid="yjy-2-0", tag_id=101)
    gateway.send_mass(TEXT, clientmsgid="yjy-3-0", to_all=True)
    (by_list,) = fake_api.calls_to("message/mass/send")
    assert by_list.body == {"touser": ["o1", "o2"], **TEXT, "clientmsgid": "yjy-1-0"}
    by_tag, everyone = fake_api.calls_to("message/mass/sendall")
    assert by_tag.body == {"filter": {"is_to_all": False, "tag_id": 101}, **TEXT, "clientmsgid": "yjy-2-0"}
    assert everyone.body == {"filter": {"is_to_all": True}, **TEXT, "clientmsgid": "yjy-3-0"}
    assert "send_ignore_reprint" not in by_list.body  # a text message is sent as built, nothing added

    with pytest.raises(WeChatClientException) as info:  # the same clientmsgid again: WeChat's refusal
        gateway.send_mass(TEXT, clientmsgid="yjy-1-0", openids=["o1", "o2"])
    assert info.value.errcode == 45065


@pytest.mark.parametrize("target", [{}, {"openids": ["o1", "o2"], "to_all": True}, {"tag_id": 1, "to_all": True}])
def test_a_mass_send_goes_to_exactly_one_audience(gateway, fake_api, target):
    with pytest.raises(ValueError, match="exactly one"):
        gateway.send_mass(TEXT, clientmsgid="x", **target)
    assert fake_api.calls == []


def test_preview_goes_to_one_follower(gateway, fake_api):
    gateway.preview_mass("o-marketer", TEXT)
    (call,) = fake_api.calls_to("message/mass/preview")
    assert call.body == {"touser": "o-marketer", **TEXT}


def test_thumbnail_then_news_upload(gateway, fake_api):
    thumb = gateway.add_thumb("winter.jpg", JPEG)
    (upload,) = fake_api.calls_to("material/add_material")
    assert upload.query["type"] == "thumb" and upload.body == {"media": JPEG} and fake_api.media[thumb] == JPEG

    article = {"title": "冬日首尔", "digest": "d", "content": "<p>c</p>", "content_source_url": "https://x",
               "author": "一机游首尔", "thumb_media_id": thumb, "show_cover_pic": 0, "need_open_comment": 0}
    media_id = gateway.upload_news([article])
    (news,) = fake_api.calls_to("media/uploadnews")
    assert news.body == {"articles": [article]} and news.response["media_id"] == media_id  # every field kept

    with pytest.raises(WeChatClientException) as info:  # a thumbnail WeChat never issued
        gateway.upload_news([{**article, "thumb_media_id": "THUMB_unknown"}])
    assert info.value.errcode == 40007


def test_tags(gateway, fake_api):
    assert gateway.get_tags() == []
    (listed,) = fake_api.calls_to("tags/get")
    assert listed.body is None
    tag_id = gateway.create_tag("winter_fans")
    (created,) = fake_api.calls_to("tags/create")
    assert created.body == {"tag": {"name": "winter_fans"}} and created.response["tag"]["id"] == tag_id
    gateway.tag_members(tag_id, ["o1", "o2"])
    (tagged,) = fake_api.calls_to("tags/members/batchtagging")
    assert tagged.body == {"openid_list": ["o1", "o2"], "tagid": tag_id}


def test_menu_and_errors(gateway, fake_api):
    body = {"button": [{"type": "click", "name": "帮助", "key": "HELP"}]}
    gateway.create_menu(body)
    (call,) = fake_api.calls_to("menu/create")
    assert call.body == body
    fake_api.fail("menu/create", errcode=40018)
    with pytest.raises(WeChatClientException) as info:
        gateway.create_menu(body)
    assert info.value.errcode == 40018
    fake_api.fail("message/custom/send", status=502)
    with pytest.raises(WeChatClientException):
        gateway.send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "x"}})
