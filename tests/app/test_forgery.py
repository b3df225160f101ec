"""Forged and replayed webhook requests (issue #14): WeChat's `signature` covers token, timestamp and nonce,
not the body. With an EncodingAESKey only the encrypted part is trusted; in plain mode a signed query is good
for one body; the access log never shows a signed query."""
from __future__ import annotations

from urllib.parse import urlencode

from bot.devtools import sender as build
from bot.wechat.protocol import parse_xml
from tests.support import WeChat

VICTIM = "oVICTIM000000000000000000000"


def test_compatible_mode_refuses_a_signed_url_replayed_with_a_plaintext_body(app, openid):
    wx = WeChat(app, "compatible")
    original = wx.sender.request(build.text(openid, "我的订单"))
    assert wx.client.post("/wechat", query_string=original.query, data=original.body,
                          content_type="text/xml").status_code == 200
    # The same signed query, the encrypted part dropped, another traveler's message in plaintext.
    forged_query = {k: v for k, v in original.query.items() if k not in ("encrypt_type", "msg_signature")}
    forged = build.text(VICTIM, "取消订单 YJ7K4M2P").encode()
    response = wx.client.post("/wechat", query_string=forged_query, data=forged, content_type="text/xml")
    assert response.status_code == 403 and b"only the encrypted part is trusted" in response.data
    assert app.extensions["yjy"].services.store.load(VICTIM) == {}  # nothing ran for the victim


def test_compatible_mode_ignores_plaintext_fields_beside_the_encrypted_part(app, openid):
    wx = WeChat(app, "compatible")
    req = wx.sender.request(build.text(openid, "帮助"))
    body = req.body.decode().replace(f"<![CDATA[{openid}]]>", f"<![CDATA[{VICTIM}]]>", 1)
    body = body.replace("<![CDATA[帮助]]>", "<![CDATA[我的订单]]>", 1)  # the plaintext says otherwise
    assert VICTIM in body
    response = wx.client.post("/wechat", query_string=req.query, data=body.encode(), content_type="text/xml")
    reply = parse_xml(wx.sender.read_reply(response.data).encode())
    assert response.status_code == 200 and reply["ToUserName"] == openid and "一机游首尔" in reply["Content"]
    assert app.extensions["yjy"].services.store.load(VICTIM) == {}


def test_plain_mode_takes_a_signed_query_with_one_body_only(app_factory, openid):
    wx = WeChat(app_factory(wechat__mode="plain"), "plain")
    req = wx.sender.request(build.text(openid, "帮助", msg_id=4242))
    first = wx.client.post("/wechat", query_string=req.query, data=req.body, content_type="text/xml")
    retry = wx.client.post("/wechat", query_string=req.query, data=req.body, content_type="text/xml")
    assert first.status_code == retry.status_code == 200 and retry.data == first.data  # WeChat's retry
    forged = build.text(VICTIM, "我的订单").encode()
    response = wx.client.post("/wechat", query_string=req.query, data=forged, content_type="text/xml")
    assert response.status_code == 403 and b"already used with another body" in response.data
    assert wx.app.extensions["yjy"].services.store.load(VICTIM) == {}
    fresh = wx.sender.request(build.text(VICTIM, "帮助"))  # a new signed query for that body is fine
    assert wx.client.post("/wechat", query_string=fresh.query, data=fresh.body,
                          content_type="text/xml").status_code == 200


def test_the_access_log_format_leaves_out_signatures_and_openids():
    from bot.web import gunicorn_conf

    fmt = gunicorn_conf.access_log_format
    assert "%(r)s" not in fmt and "%(q)s" not in fmt and "%(U)s" in fmt
    query = urlencode({"signature": "0f" * 20, "timestamp": "1700000000", "nonce": "123", "openid": "oSECRET123"})
    atoms = {"h": "10.0.0.1", "t": "[06/Dec/2026:10:00:00 +0900]", "m": "POST", "U": "/wechat", "H": "HTTP/1.1",
             "s": "200", "b": "42", "L": "0.004", "q": query, "r": f"POST /wechat?{query} HTTP/1.1"}
    line = fmt % atoms
    assert line == '10.0.0.1 [06/Dec/2026:10:00:00 +0900] "POST /wechat HTTP/1.1" 200 42 0.004'
    assert "signature" not in line and "oSECRET123" not in line
