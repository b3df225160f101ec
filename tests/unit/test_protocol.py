"""Protocol primitives against Tencent's published sample vector and hostile inputs."""
from __future__ import annotations

import pytest

from bot.wechat.inbound import to_incoming
from bot.wechat.protocol import AESEnvelope, ProtocolError, check_signature, check_timestamp, parse_xml, sha1_signature
from bot.wechat.replies import news, render_xml, text, to_customer_service

# Tencent's sample (WXBizMsgCrypt demos; WeCom doc 90968): token, key, AppID, and one encrypted message.
SAMPLE_TOKEN = "QDG6eK"
SAMPLE_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
SAMPLE_APPID = "wx5823bf96d3bd56c7"
SAMPLE_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/"
    "sYYvuJTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZf"
    "JYuR+LtwGc2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAV"
    "GUcallcrw8V2t9EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3"
    "KDYA5Pl/T8Z1ptDAVe0lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q==")
SAMPLE_SIGNATURE = "477715d11cdb4164915debcba66cb864d751f3e6"


def test_official_sample_signature_and_decryption():
    assert sha1_signature(SAMPLE_TOKEN, "1409659813", "1372623149", SAMPLE_ENCRYPT) == SAMPLE_SIGNATURE
    envelope = AESEnvelope(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APPID)
    plain = envelope.decrypt(SAMPLE_ENCRYPT, SAMPLE_SIGNATURE, "1409659813", "1372623149")
    data = parse_xml(plain.encode())
    assert data["FromUserName"] == "mycreate" and data["Content"] == "hello"
    assert data["MsgId"] == "4561255354251345929"


def test_official_sample_refused_with_wrong_signature_or_appid():
    with pytest.raises(ProtocolError) as info:
        AESEnvelope(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APPID).decrypt(SAMPLE_ENCRYPT, "0" * 40, "1409659813", "1372623149")
    assert info.value.status == 403
    with pytest.raises(ProtocolError) as info:
        AESEnvelope(SAMPLE_TOKEN, SAMPLE_KEY, "wxOTHER").decrypt(SAMPLE_ENCRYPT, SAMPLE_SIGNATURE, "1409659813",
                                                                 "1372623149")
    assert info.value.status == 400 and "AppID" in info.value.reason


def test_encrypt_then_decrypt_roundtrip_with_block_sized_padding():
    envelope = AESEnvelope(SAMPLE_TOKEN, SAMPLE_KEY, SAMPLE_APPID)
    for message in ("", "x", "景福宫" * 50, "a" * 4 * 32):
        wrapped = parse_xml(envelope.encrypt(message, "nonce1", "1700000000").encode())
        assert wrapped["MsgSignature"] == sha1_signature(SAMPLE_TOKEN, "1700000000", "nonce1", wrapped["Encrypt"])
        assert envelope.decrypt(wrapped["Encrypt"], wrapped["MsgSignature"], "1700000000", "nonce1") == message


def test_signature_check_is_exact():
    good = sha1_signature("t", "1", "2")
    check_signature(("t", "1", "2"), good, "signature")
    check_signature(("t", "1", "2"), good.upper(), "signature")
    for bad in (None, "", good[:-1], good[:-1] + "0"):
        if bad == good:
            continue
        with pytest.raises(ProtocolError):
            check_signature(("t", "1", "2"), bad, "signature")


@pytest.mark.parametrize("ts,ok", [("1000", True), ("700", True), ("1300", True), ("699", False),
                                   ("1301", False), ("abc", False), (None, False)])
def test_timestamp_window(ts, ok):
    if ok:
        check_timestamp(ts, 300, now=1000)
    else:
        with pytest.raises(ProtocolError):
            check_timestamp(ts, 300, now=1000)


def test_nested_event_fields_parse_like_wechatpy_expects():
    data = parse_xml("<xml><ToUserName>gh</ToUserName><FromUserName>o1</FromUserName><CreateTime>1</CreateTime>"
                     "<MsgType>event</MsgType><Event>location_select</Event><EventKey>k</EventKey>"
                     "<SendLocationInfo><Location_X>37.57</Location_X><Location_Y>126.98</Location_Y>"
                     "<Scale>15</Scale><Label>x</Label><Poiname><![CDATA[明洞]]></Poiname></SendLocationInfo>"
                     "</xml>".encode())
    msg = to_incoming(data)
    assert msg.event == "location_select" and msg.location.lat == 37.57 and msg.location.label == "明洞"
    assert msg.raw.location_x == "37.57"


def test_subscribe_scene_and_dedup_keys():
    sub = to_incoming(parse_xml(b"<xml><FromUserName>o1</FromUserName><CreateTime>9</CreateTime>"
                                b"<MsgType>event</MsgType><Event>subscribe</Event><EventKey>qrscene_kol42</EventKey></xml>"))
    assert sub.scene == "kol42" and sub.dedup_key == "e:o1:9:subscribe:kol42"
    msg = to_incoming(parse_xml(b"<xml><FromUserName>o1</FromUserName><CreateTime>9</CreateTime>"
                                b"<MsgType>text</MsgType><Content>hi</Content><MsgId>42</MsgId></xml>"))
    assert msg.dedup_key == "m:42:o1:9" and msg.text == "hi"


def test_out_of_range_coordinates_are_ignored():
    msg = to_incoming(parse_xml(b"<xml><FromUserName>o1</FromUserName><MsgType>location</MsgType>"
                                b"<Location_X>999</Location_X><Location_Y>126</Location_Y></xml>"))
    assert msg.location is None


def test_every_cdata_field_is_escaped_in_text_and_news():
    evil = "x]]><Injected>1</Injected>"
    for reply in (text(evil), news(evil, evil, "https://a/" + evil, evil)):
        xml = render_xml(reply, to_user="o]]>1", from_account="gh")
        data = parse_xml(xml.encode())
        assert "Injected" not in data and data["ToUserName"] == "o]]>1"
        if "Content" in data:
            assert data["Content"] == evil
        else:
            item = data["Articles"]["item"]
            assert item["Title"] == item["Description"] == item["PicUrl"] == evil
    assert text(evil).content == evil  # the reply object itself is untouched (kf path)


def test_customer_service_payloads():
    assert to_customer_service(text("hi"), "o1") == {"touser": "o1", "msgtype": "text", "text": {"content": "hi"}}
    payload = to_customer_service(news("T", "D", "https://u", "https://p.jpg"), "o1")
    assert payload["news"]["articles"] == [{"title": "T", "description": "D", "url": "https://u",
                                            "picurl": "https://p.jpg"}]
