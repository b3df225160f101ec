"""The /wechat endpoint against requests built exactly as WeChat builds them, on both back-ends."""

from __future__ import annotations

import logging
import time

import pytest

from bot.devtools import sender as build
from bot.devtools.sender import WeChatSender
from tests.support import AES_KEY, TOKEN, WeChat


# --- verification (GET) ----------------------------------------------------------------------------
def test_get_answers_echostr_when_signed(app):
    sender = WeChatSender(TOKEN)
    response = app.test_client().get("/wechat", query_string=sender.verification("5837397520665436492"))
    assert response.status_code == 200
    assert response.data == b"5837397520665436492"


@pytest.mark.parametrize("tamper", ["signature", "timestamp", "missing", "stale"])
def test_get_refuses_bad_signature_or_timestamp(app, tamper):
    query = WeChatSender(TOKEN).verification()
    if tamper == "signature":
        query["signature"] = "0" * 40
    elif tamper == "timestamp":
        query["timestamp"] = str(int(query["timestamp"]) + 1)  # signature no longer matches
    elif tamper == "missing":
        query = {"echostr": "x"}
    else:
        query = WeChatSender(TOKEN).sign(timestamp=str(int(time.time()) - 3600))
        query["echostr"] = "x"
    response = app.test_client().get("/wechat", query_string=query)
    assert response.status_code == 403
    assert response.data != b"x"


# --- messages in each mode ---------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_help_reply_in_every_mode(app_factory, openid, mode):
    wx = WeChat(app_factory(wechat__mode=mode), mode)
    reply = wx.say(openid, "帮助")
    assert reply["MsgType"] == "text"
    assert "一机游首尔" in reply["Content"]
    assert reply["ToUserName"] == openid
    assert reply["FromUserName"] == "gh_yijiyou"


def test_safe_mode_reply_is_encrypted_and_signed(app, openid):
    wx = WeChat(app, "safe")
    response = wx.post(build.text(openid, "help"), nonce="778899")
    body = response.data.decode()
    assert "<Encrypt>" in body and "帮助" not in body and "Content" not in body
    assert "<Nonce><![CDATA[778899]]></Nonce>" in body
    assert "<Content>" in wx.sender.read_reply(body)  # read_reply checks MsgSignature


def test_safe_mode_config_refuses_plaintext(app_factory, openid):
    app = app_factory(wechat__mode="safe")
    response = WeChat(app, "plain").post(build.text(openid, "帮助"))
    assert response.status_code == 403
    assert WeChat(app, "safe").say(openid, "帮助")["MsgType"] == "text"


def test_subscribe_with_campaign_scene_is_welcomed(wechat, openid):
    reply = wechat.reply(build.event(openid, "subscribe", "qrscene_kol42", Ticket="TICKET"))
    assert reply["MsgType"] == "text"
    assert "欢迎关注" in reply["Content"] and "活动二维码" in reply["Content"]
    plain = wechat.reply(build.event(openid + "x", "subscribe", ""))
    assert "欢迎关注" in plain["Content"] and "活动二维码" not in plain["Content"]


def test_voice_recognition_is_understood_as_text(wechat, openid):
    xml = build.message_xml({"FromUserName": openid, "CreateTime": int(time.time()), "MsgType": "voice",
                             "MediaId": "m1", "Format": "amr", "Recognition": "帮助。", "MsgId": 991})
    assert "一机游首尔" in wechat.reply(xml)["Content"]

KINDS = {
    "image": {"MsgType": "image", "PicUrl": "http://x/p.jpg", "MediaId": "m"},
    "video": {"MsgType": "video", "MediaId": "m", "ThumbMediaId": "t"},
    "shortvideo": {"MsgType": "shortvideo", "MediaId": "m", "ThumbMediaId": "t"},
    "link": {"MsgType": "link", "Title": "t", "Description": "d", "Url": "http://x"},
    "file": {"MsgType": "file", "Title": "a.pdf", "FileKey": "k", "FileMd5": "m", "FileTotalLen": "10"},
}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_message_kind_gets_a_polite_reply(wechat, openid, kind):
    xml = build.message_xml({"FromUserName": openid, "CreateTime": int(time.time()), "MsgId": 77, **KINDS[kind]})
    reply = wechat.reply(xml)
    assert reply["MsgType"] == "text"
    assert "帮助" in reply["Content"]

EVENTS = {
    "unsubscribe": {},
    "SCAN": {"EventKey": "kol42", "Ticket": "T"},
    "CLICK": {"EventKey": "NO_SUCH_KEY"},
    "VIEW": {"EventKey": "https://yjy.example.com/p/x"},
    "scancode_push": {"EventKey": "s", "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "1"}},
    "scancode_waitmsg": {"EventKey": "s", "ScanCodeInfo": {"ScanType": "qrcode", "ScanResult": "1"}},
    "pic_sysphoto": {"EventKey": "p", "SendPicsInfo": {"Count": "0"}},
    "pic_photo_or_album": {"EventKey": "p", "SendPicsInfo": {"Count": "0"}},
    "pic_weixin": {"EventKey": "p", "SendPicsInfo": {"Count": "0"}},
    "MASSSENDJOBFINISH": {"MsgID": "1000001", "Status": "send success", "TotalCount": "5",
                          "FilterCount": "5", "SentCount": "5", "ErrorCount": "0"},
    "TEMPLATESENDJOBFINISH": {"MsgID": "200", "Status": "success"},
    "some_future_event": {},
}


@pytest.mark.parametrize("name", sorted(EVENTS))
def test_events_without_a_handler_get_success(wechat, openid, name):
    xml = build.event(openid, name, **EVENTS[name])
    response = wechat.post(xml)
    assert response.status_code == 200
    assert response.data == b"success"


def test_unknown_message_type_is_logged_and_answered_success(wechat, openid, caplog):
    xml = build.message_xml({"FromUserName": openid, "CreateTime": int(time.time()), "MsgType": "hologram",
                             "MsgId": 5})
    with caplog.at_level(logging.INFO):
        response = wechat.post(xml)
    assert (response.status_code, response.data) == (200, b"success")
    assert "unknown message type 'hologram'" in caplog.text


# --- hostile input -----------------------------------------------------------------------------------
def test_cdata_terminator_in_user_text_cannot_break_the_reply(app_factory, openid):
    nasty = "a]]><ToUserName>evil</ToUserName><![CDATA[ ]]> 你好"
    for mode in ("plain", "compatible", "safe"):
        app = app_factory(routers="tests.probe_handlers:ROUTERS", wechat__mode=mode)
        reply = WeChat(app, mode).say(openid, "echo:" + nasty)
        assert reply["Content"] == nasty
        assert reply["ToUserName"] == openid


@pytest.mark.parametrize("body,reason", [
    (b"<xml><ToUserName>a</ToUserName>", "malformed"),
    (b"not xml at all", "malformed"),
    (b"", "empty"),
    (b"<root><a>1</a></root>", "root element"),
    (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>'
     b"<xml><Content>&lol2;</Content></xml>", "refused"),
    (b'<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
     b"<xml><Content>&xxe;</Content></xml>", "refused"),
])
def test_bad_xml_is_refused_with_400(wechat, body, reason, caplog):
    req = wechat.sender.request("<xml></xml>")
    with caplog.at_level(logging.WARNING):
        response = wechat.client.post("/wechat", query_string=req.query, data=body)
    assert response.status_code == 400
    assert reason in response.data.decode()
    assert "webhook refused" in caplog.text
    assert b"root:" not in response.data  # nothing of /etc/passwd


def test_oversized_body_gets_413(app_factory, openid):
    app = app_factory(webhook__max_body_bytes=2048)
    wx = WeChat(app)
    response = wx.post(build.text(openid, "长" * 1000))
    assert response.status_code == 413
    assert wx.post(build.text(openid, "帮助")).status_code == 200


def test_wrong_signature_and_stale_timestamp_get_403(wechat, openid):
    req = wechat.sender.request(build.text(openid, "帮助"))
    req.query["signature"] = req.query["signature"][::-1]
    assert wechat.client.post("/wechat", query_string=req.query, data=req.body).status_code == 403
    old = str(int(time.time()) - 301)
    assert wechat.post(build.text(openid, "帮助"), timestamp=old).status_code == 403
    future = str(int(time.time()) + 301)
    assert wechat.post(build.text(openid, "帮助"), timestamp=future).status_code == 403


def test_broken_ciphertext_and_wrong_appid_get_400(app, openid):
    wx = WeChat(app, "safe")
    req = wx.sender.request(build.text(openid, "帮助"))
    # Re-sign a corrupted ciphertext so only the decryption can fail.
    from bot.wechat.protocol import parse_xml, sha1_signature
    encrypted = parse_xml(req.body)["Encrypt"]
    for broken in (encrypted[:-8] + "AAAAAAA=", "bm90IGEgY2lwaGVydGV4dA==", "%%%not-base64%%%"):
        body = f"<xml><ToUserName>gh</ToUserName><Encrypt><![CDATA[{broken}]]></Encrypt></xml>"
        query = dict(req.query, msg_signature=sha1_signature(TOKEN, req.query["timestamp"], req.query["nonce"], broken))
        response = wx.client.post("/wechat", query_string=query, data=body)
        assert response.status_code == 400, broken

    other_app = WeChatSender(TOKEN, "wx0000000000000000", AES_KEY, "safe")
    req = other_app.request(build.text(openid, "帮助"))
    response = wx.client.post("/wechat", query_string=req.query, data=req.body)
    assert response.status_code == 400
    assert b"AppID" in response.data

    req = wx.sender.request(build.text(openid, "帮助"))
    req.query["msg_signature"] = "f" * 40
    assert wx.client.post("/wechat", query_string=req.query, data=req.body).status_code == 403


# --- handler failure ---------------------------------------------------------------------------------
def test_handler_error_becomes_a_chinese_apology_not_a_500(app_factory, openid, caplog):
    app = app_factory(routers="tests.probe_handlers:ROUTERS")
    xml = build.text(openid, "boom", msg_id=424242)
    with caplog.at_level(logging.ERROR):
        reply = WeChat(app).reply(xml)
    assert reply["MsgType"] == "text"
    assert "抱歉" in reply["Content"] and "Traceback" not in reply["Content"]
    assert "424242" in caplog.text and "probe handler exploded" in caplog.text


# --- health ------------------------------------------------------------------------------------------
def test_health_and_readiness(app):
    client = app.test_client()
    assert client.get("/healthz").json == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json["checks"] == {"redis": True, "database": True}


def test_readiness_fails_when_redis_is_unreachable(app_factory):
    app = app_factory(redis__url="redis://127.0.0.1:1/0", redis__timeout_seconds=0.2)
    ready = app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert ready.json["checks"]["redis"] is False


@pytest.mark.parametrize("text", ["确认", "2", "继续"])
def test_with_redis_down_a_reply_that_needs_the_conversation_asks_to_try_again(app_factory, openid, text):
    """Not "目前没有需要确认的预订": the state is out of reach, not empty."""
    app = app_factory(redis__url="redis://127.0.0.1:1/0", redis__timeout_seconds=0.2)
    reply = WeChat(app).say(openid, text)
    assert "过一会儿再发一次" in reply["Content"] and "没有需要确认" not in reply["Content"]


def test_webhook_still_answers_when_redis_is_down(app_factory, openid, caplog):
    app = app_factory(redis__url="redis://127.0.0.1:1/0", redis__timeout_seconds=0.2)
    with caplog.at_level(logging.ERROR):
        started = time.monotonic()
        reply = WeChat(app).say(openid, "帮助")
        elapsed = time.monotonic() - started
    assert "一机游首尔" in reply["Content"]
    assert "Redis unavailable" in caplog.text
    assert elapsed < 4.0  # far inside WeChat's window even with Redis gone


@pytest.mark.servers
def test_a_hung_redis_costs_one_timeout_then_messages_fail_fast_and_it_comes_back(app_factory, openid, real_redis):
    """Redis behind a paused proxy: the first message waits one timeout, the next ones do not wait at all
    (the client is marked down), every one is answered; once it flows again, state works again."""
    from redis.connection import parse_url

    from bot.infra import redis_conn
    from tests.pausable_proxy import PausableProxy
    from tests.support import REDIS_URL

    target = parse_url(REDIS_URL)
    with PausableProxy(target.get("host", "127.0.0.1"), int(target.get("port", 6379))) as proxy:
        url = f"redis://127.0.0.1:{proxy.port}/{target.get('db', 0)}"
        wx = WeChat(app_factory(redis__url=url, redis__timeout_seconds=0.3, routers="tests.probe_handlers:ROUTERS"))
        assert wx.say(openid, "remember:blue")["Content"] == "ok"
        proxy.pause()
        times = []
        for n in range(5):
            started = time.monotonic()
            assert wx.say(openid, "echo:still here", msg_id=5100 + n)["Content"] == "still here"
            times.append(time.monotonic() - started)
        assert times[0] < 1.0  # one timeout (0.3 s), not one per call and no retry of it
        assert max(times[1:]) < 0.2  # marked down: no waiting at all
        proxy.resume()
        time.sleep(redis_conn.DOWN_SECONDS + 0.1)
        assert wx.say(openid, "recall")["Content"] == "blue"  # back: the state was never lost
