"""bot.devtools.fake_pay over real HTTP: requests signed with bot.pay.crypto and the merchant key of
merchant_keys(), every answer (errors and 204s too) verified with the fake's platform public key, every
notification verified and decrypted as a merchant must (../shared/reference/wechat_pay_and_kf_facts.md)."""
from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from bot.devtools.fake_pay import FakeWeChatPay, Notification, merchant_keys
from bot.pay import crypto

MCHID, SUB_MCHID, SP_APPID = "1900000100", "1900000109", "wx2421b1c4370ec43b"
APIV3_KEY = b"0123456789abcdef0123456789abcdef"
MERCHANT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
NOTIFY_URL = "https://bot.example.com/pay/notify"
OPENID = "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
PRIVATE_PEM, PUBLIC_PEM = merchant_keys()
MERCHANT_KEY = crypto.load_private_key(PRIVATE_PEM)


# --- servers: one platform key each, generated once per module ---------------------------------
@pytest.fixture(scope="module")
def global_server() -> Iterator[FakeWeChatPay]:
    with FakeWeChatPay(mchid=MCHID, sub_mchid=SUB_MCHID, appid=SP_APPID, merchant_public_key_pem=PUBLIC_PEM,
                       apiv3_key=APIV3_KEY) as fake:
        yield fake


@pytest.fixture(scope="module")
def domestic_server() -> Iterator[FakeWeChatPay]:
    with FakeWeChatPay(mchid=MCHID, appid=SP_APPID, mode="domestic", merchant_public_key_pem=PUBLIC_PEM,
                       apiv3_key=APIV3_KEY) as fake:
        yield fake


@pytest.fixture
def gpay(global_server: FakeWeChatPay) -> FakeWeChatPay:
    global_server.reset()
    return global_server


@pytest.fixture
def dpay(domestic_server: FakeWeChatPay) -> FakeWeChatPay:
    domestic_server.reset()
    return domestic_server


# --- a merchant's side, by hand ----------------------------------------------------------------
def call(fake: FakeWeChatPay, method: str, path: str, body: Any = None, *, mchid: str = MCHID,
         timestamp: str | None = None, tamper: bool = False, authorization: str | None = None,
         timeout: float = 5, signed: bool = True) -> requests.Response:
    """One signed request; the answer's signature is checked before it is returned."""
    data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
    auth = authorization if authorization is not None else crypto.authorization(
        method, path, data, mchid, MERCHANT_SERIAL, MERCHANT_KEY, timestamp=timestamp)
    sent = data + b" " if tamper else data  # still the same JSON, no longer the signed bytes
    resp = requests.request(method, fake.url + path, data=sent or None, timeout=timeout,
                            headers={"Authorization": auth, "Accept": "application/json",
                                     "Content-Type": "application/json", "Wechatpay-Serial": fake.platform_key_id})
    if signed:
        assert_signed(fake, resp)
    return resp


def assert_signed(fake: FakeWeChatPay, resp: requests.Response) -> None:
    h = resp.headers
    assert h["Wechatpay-Serial"] == fake.platform_key_id
    assert h["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert h["Request-ID"]
    assert abs(time.time() - int(h["Wechatpay-Timestamp"])) < 60
    message = crypto.response_message(h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], resp.content)
    assert crypto.verify(crypto.load_public_key(fake.platform_public_key_pem), message, h["Wechatpay-Signature"])


def open_notification(fake: FakeWeChatPay, n: Notification, apiv3_key: bytes = APIV3_KEY) -> dict[str, Any]:
    """What a merchant's handler does: verify over the raw body, then decrypt the resource."""
    h = n.headers
    assert h["Wechatpay-Serial"] == fake.platform_key_id
    assert h["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    message = crypto.response_message(h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"], n.body)
    assert crypto.verify(crypto.load_public_key(fake.platform_public_key_pem), message, h["Wechatpay-Signature"])
    resource = json.loads(n.body)["resource"]
    plaintext: dict[str, Any] = json.loads(crypto.decrypt(apiv3_key, resource["nonce"], resource["ciphertext"],
                                                          resource["associated_data"]))
    assert plaintext == n.plaintext
    return plaintext


def error(resp: requests.Response) -> tuple[int, str]:
    return resp.status_code, resp.json()["code"]


def global_order(no: str = "B20261205001", total: int = 50000, **changes: Any) -> dict[str, Any]:
    body = {"sp_appid": SP_APPID, "sp_mchid": MCHID, "sub_mchid": SUB_MCHID,
            "description": "一机游首尔-首尔-乱打秀", "out_trade_no": no, "notify_url": NOTIFY_URL,
            "trade_type": "JSAPI", "merchant_category_code": "4722", "attach": "booking=17",
            "amount": {"total": total, "currency": "KRW"}, "payer": {"sp_openid": OPENID}}
    body.update(changes)
    return body


def domestic_order(no: str = "D20261205001", total: int = 26300, **changes: Any) -> dict[str, Any]:
    body = {"appid": SP_APPID, "mchid": MCHID, "description": "一机游首尔-乱打秀", "out_trade_no": no,
            "notify_url": NOTIFY_URL, "amount": {"total": total, "currency": "CNY"}, "payer": {"openid": OPENID}}
    body.update(changes)
    return body


def global_refund(refund_no: str, refund: int, total: int = 50000, **changes: Any) -> dict[str, Any]:
    body = {"sp_mchid": MCHID, "sub_mchid": SUB_MCHID, "out_trade_no": "B20261205001",
            "out_refund_no": refund_no, "reason": "行程取消", "amount": {"refund": refund, "total": total,
                                                                       "currency": "KRW"}}
    body.update(changes)
    return body


QUERY = f"/v3/global/transactions/out-trade-no/B20261205001?sub_mchid={SUB_MCHID}&sp_mchid={MCHID}"


# --- Global, institutional: the whole life of an order -----------------------------------------
def test_global_order_query_pay_and_notification(gpay: FakeWeChatPay) -> None:
    first = call(gpay, "POST", "/v3/global/transactions/jsapi", global_order())
    assert first.status_code == 200
    prepay_id = first.json()["prepay_id"]
    assert re.fullmatch(r"wx\w{34}", prepay_id)
    # A retry of the same order (a timeout, a double tap) gets the same prepay_id; another amount is refused.
    assert call(gpay, "POST", "/v3/global/transactions/jsapi", global_order()).json() == {"prepay_id": prepay_id}
    conflict = call(gpay, "POST", "/v3/global/transactions/jsapi", global_order(total=60000))
    assert error(conflict) == (403, "OUT_TRADE_NO_USED")
    assert conflict.json()["detail"]["differs"] == ["amount"]

    unpaid = call(gpay, "GET", QUERY).json()
    assert unpaid["trade_state"] == "NOTPAY" and unpaid["trade_state_desc"] == "订单未支付"
    assert "transaction_id" not in unpaid and "id" not in unpaid and "payer_total" not in unpaid["amount"]

    when = datetime(2026, 12, 5, 10, 0, 7, tzinfo=timezone(timedelta(hours=9)))  # Seoul
    n = gpay.pay("B20261205001", when=when)
    paid = call(gpay, "GET", QUERY).json()
    assert paid["trade_state"] == "SUCCESS" and paid["id"] == paid["transaction_id"]
    assert re.fullmatch(r"4200\d{24}", paid["transaction_id"])
    assert paid["success_time"] == "2026-12-05T09:00:07+08:00"
    assert paid["amount"] == {"total": 50000, "currency": "KRW", "payer_total": 26316, "payer_currency": "CNY"}
    assert paid["exchange_rate"] == {"type": "SETTLEMENT_RATE", "rate": 526316}
    assert (paid["sp_mchid"], paid["sub_mchid"], paid["sp_appid"], paid["payer"]) == (
        MCHID, SUB_MCHID, SP_APPID, {"sp_openid": OPENID})
    assert paid["attach"] == "booking=17" and paid["trade_type"] == "JSAPI"
    by_id = call(gpay, "GET", f"/v3/global/transactions/id/{paid['id']}?sub_mchid={SUB_MCHID}&sp_mchid={MCHID}")
    assert by_id.json() == paid

    assert n.url == NOTIFY_URL
    assert open_notification(gpay, n) == paid
    envelope = n.envelope
    assert (envelope["event_type"], envelope["summary"], envelope["resource_type"]) == (
        "TRANSACTION.SUCCESS", "支付成功", "encrypt-resource")
    assert envelope["resource"]["original_type"] == envelope["resource"]["associated_data"] == "transaction"
    assert envelope["resource"]["algorithm"] == "AEAD_AES_256_GCM" and len(envelope["resource"]["nonce"]) == 12
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+08:00", envelope["create_time"])

    assert error(call(gpay, "POST", "/v3/global/transactions/jsapi", global_order())) == (400, "ORDERPAID")
    with pytest.raises(ValueError):
        gpay.pay("B20261205001")


def test_global_refunds(gpay: FakeWeChatPay) -> None:
    call(gpay, "POST", "/v3/global/transactions/jsapi", global_order())
    assert error(call(gpay, "POST", "/v3/global/refunds", global_refund("R1", 20000))) == (400, "INVALID_REQUEST")
    gpay.pay("B20261205001")

    first = call(gpay, "POST", "/v3/global/refunds", global_refund("R1", 20000))
    refund = first.json()
    assert first.status_code == 200 and refund["status"] == "PROCESSING"
    assert refund["id"] == refund["refund_id"] and refund["out_trade_no"] == "B20261205001"
    assert refund["amount"]["refund"] == 20000 and refund["amount"]["payer_refund"] == 10526  # 20000/50000*26316
    # The same out_refund_no again (a retry after a timeout or NOT_ENOUGH) is the same refund, not a second one.
    assert call(gpay, "POST", "/v3/global/refunds", global_refund("R1", 20000)).json() == refund
    assert error(call(gpay, "POST", "/v3/global/refunds", global_refund("R2", 30001))) == (400, "INVALID_REQUEST")
    assert error(call(gpay, "POST", "/v3/global/refunds", global_refund("R2", 100, total=40000))) == (
        400, "PARAM_ERROR")
    cny = global_refund("R2", 100, amount={"refund": 100, "total": 50000, "currency": "CNY"})
    assert error(call(gpay, "POST", "/v3/global/refunds", cny)) == (400, "PARAM_ERROR")
    assert error(call(gpay, "POST", "/v3/global/refunds", global_refund("R2", 100, out_trade_no="NOPE000"))) == (
        404, "RESOURCE_NOT_EXISTS")
    assert call(gpay, "GET", QUERY).json()["trade_state"] == "REFUND"

    # The rest, by transaction_id, to the refund's own notify_url: gives back exactly what is left.
    tx = gpay.orders["B20261205001"]["transaction_id"]
    rest = global_refund("R2", 30000, out_trade_no=None, transaction_id=tx, notify_url=NOTIFY_URL + "/refund")
    assert call(gpay, "POST", "/v3/global/refunds", rest).json()["amount"]["payer_refund"] == 26316 - 10526

    n = gpay.finish_refund("R1")
    notice = open_notification(gpay, n)
    assert n.url == NOTIFY_URL and n.envelope["event_type"] == "REFUND.SUCCESS" and n.envelope["summary"] == "退款成功"
    assert n.envelope["resource"]["associated_data"] == "refund"
    assert (notice["sp_mchid"], notice["sub_mchid"], notice["refund_status"]) == (MCHID, SUB_MCHID, "SUCCESS")
    assert notice["refund_id"] == refund["refund_id"] and notice["transaction_id"] == tx
    assert notice["amount"] == {"total": 50000, "refund": 20000, "payer_total": 26316, "payer_refund": 10526,
                                "currency": "KRW", "payer_currency": "CNY"}
    assert notice["success_time"].endswith("+08:00")
    queried = call(gpay, "GET", f"/v3/global/refunds/out-refund-no/R1?sub_mchid={SUB_MCHID}").json()
    assert queried["status"] == "SUCCESS" and queried["success_time"] == notice["success_time"]
    assert gpay.finish_refund("R2", "ABNORMAL").url == NOTIFY_URL + "/refund"
    assert error(call(gpay, "GET", f"/v3/global/refunds/out-refund-no/R9?sub_mchid={SUB_MCHID}")) == (
        404, "RESOURCE_NOT_EXISTS")


def test_close_then_the_number_is_spent(gpay: FakeWeChatPay) -> None:
    call(gpay, "POST", "/v3/global/transactions/jsapi", global_order())
    close = "/v3/global/transactions/out-trade-no/B20261205001/close"
    ids = {"sp_mchid": MCHID, "sub_mchid": SUB_MCHID}
    first = call(gpay, "POST", close, ids)  # call() checked the signature over the empty body
    assert first.status_code == 204 and first.content == b""
    assert call(gpay, "POST", close, ids).status_code == 204
    assert call(gpay, "GET", QUERY).json()["trade_state"] == "CLOSED"
    assert error(call(gpay, "POST", "/v3/global/transactions/jsapi", global_order())) == (400, "ORDER_CLOSED")
    assert error(call(gpay, "POST", "/v3/global/transactions/out-trade-no/NOPE0001/close", ids)) == (
        404, "ORDER_NOT_EXIST")

    call(gpay, "POST", "/v3/global/transactions/jsapi", global_order("B20261205002"))
    gpay.pay("B20261205002")
    assert error(call(gpay, "POST", "/v3/global/transactions/out-trade-no/B20261205002/close", ids)) == (
        400, "ORDERPAID")
    assert error(call(gpay, "GET", QUERY.replace("B20261205001", "NOPE0001"))) == (404, "ORDER_NOT_EXIST")


@pytest.mark.parametrize(("changes", "expected"), [
    ({"payer": {}}, "/payer/sp_openid"),
    ({"payer": {"sub_openid": OPENID}}, "/sub_appid"),
    ({"out_trade_no": "B1"}, "/out_trade_no"),
    ({"out_trade_no": "B2026 1205"}, "/out_trade_no"),
    ({"amount": {"total": 0, "currency": "KRW"}}, "/amount/total"),
    ({"amount": {"total": 500.5, "currency": "KRW"}}, "/amount/total"),
    ({"amount": {"total": 500, "currency": "USD"}}, "/amount/currency"),
    ({"trade_type": "NATIVE"}, "/trade_type"),
    ({"notify_url": NOTIFY_URL + "?booking=1"}, "/notify_url"),
    ({"description": None}, "/description"),
    ({"sp_appid": None}, "/sp_appid"),
])
def test_global_order_fields_are_checked(gpay: FakeWeChatPay, changes: dict[str, Any], expected: str) -> None:
    resp = call(gpay, "POST", "/v3/global/transactions/jsapi", global_order(**changes))
    assert error(resp) == (400, "PARAM_ERROR")
    assert resp.json()["detail"]["field"] == expected
    assert gpay.orders == {}


def test_another_merchant_or_appid_in_the_body(gpay: FakeWeChatPay) -> None:
    assert error(call(gpay, "POST", "/v3/global/transactions/jsapi", global_order(sub_mchid="1900000999"))) == (
        400, "MCH_NOT_EXISTS")
    assert error(call(gpay, "POST", "/v3/global/transactions/jsapi", global_order(sp_appid="wx_other"))) == (
        400, "APPID_MCHID_NOT_MATCH")
    assert error(call(gpay, "GET", QUERY.replace(SUB_MCHID, "1900000999"))) == (400, "MCH_NOT_EXISTS")
    assert error(call(gpay, "GET", "/v3/global/transactions/out-trade-no/B20261205001")) == (400, "PARAM_ERROR")


# --- requests that are not the merchant's -----------------------------------------------------
def test_refused_signatures_are_401_signed_and_recorded(gpay: FakeWeChatPay) -> None:
    path = "/v3/global/transactions/jsapi"
    stale = str(int(time.time()) - 301)
    refused = [
        call(gpay, "POST", path, global_order(), tamper=True),  # the body is not what was signed
        call(gpay, "POST", path, global_order(), mchid="1900000999"),  # signed for another merchant
        call(gpay, "POST", path, global_order(), timestamp=stale),
        call(gpay, "POST", path, global_order(), authorization=""),
        call(gpay, "POST", path, global_order(), authorization='Bearer mchid="1900000100"'),
    ]
    assert [error(r) for r in refused] == [(401, "SIGN_ERROR")] * 5
    assert refused[0].json()["detail"]["sign_information"]["truncated_sign_message"].startswith(f"POST\n{path}\n")
    assert gpay.orders == {}
    assert [(c.method, c.path, c.status) for c in gpay.calls] == [("POST", path, 401)] * 5
    assert gpay.calls[0].body["out_trade_no"] == "B20261205001"
    # The query string is signed as sent: another order of the parameters is another message.
    auth = crypto.authorization("GET", QUERY, b"", MCHID, MERCHANT_SERIAL, MERCHANT_KEY)
    reordered = f"/v3/global/transactions/out-trade-no/B20261205001?sp_mchid={MCHID}&sub_mchid={SUB_MCHID}"
    assert error(call(gpay, "GET", reordered, authorization=auth)) == (401, "SIGN_ERROR")


def test_paths_of_the_other_family(gpay: FakeWeChatPay, dpay: FakeWeChatPay) -> None:
    resp = call(gpay, "POST", "/v3/pay/transactions/jsapi", domestic_order())
    assert resp.status_code == 400 and resp.json() == {"code": "INVALID_REQUEST", "message": "暂不支持境外支付"}
    assert call(gpay, "GET", f"/v3/pay/transactions/out-trade-no/D20261205001?mchid={MCHID}").status_code == 404
    assert call(dpay, "POST", "/v3/global/transactions/jsapi", global_order()).status_code == 404
    assert call(dpay, "GET", "/v3/global/transactions/jsapi").status_code == 404  # the wrong method too


# --- faults ------------------------------------------------------------------------------------
def test_injected_faults(gpay: FakeWeChatPay) -> None:
    path = "/v3/global/transactions/jsapi"
    gpay.fail(path)
    gpay.fail("/v3/global/refunds", status=403, code="NOT_ENOUGH")
    assert error(call(gpay, "POST", path, global_order())) == (500, "SYSTEM_ERROR")
    assert gpay.orders == {}  # refused: nothing was done
    prepay_id = call(gpay, "POST", path, global_order()).json()["prepay_id"]
    gpay.pay("B20261205001")
    assert error(call(gpay, "POST", "/v3/global/refunds", global_refund("R1", 100))) == (403, "NOT_ENOUGH")
    assert call(gpay, "POST", "/v3/global/refunds", global_refund("R1", 100)).status_code == 200

    # Done, but answered after the client gave up: the retry finds the same order.
    gpay.fail(path, status=200, delay=0.4)
    with pytest.raises(requests.Timeout):
        call(gpay, "POST", path, global_order("B20261205002"), timeout=0.1)
    assert gpay.orders["B20261205002"]["trade_state"] == "NOTPAY"
    again = call(gpay, "POST", path, global_order("B20261205002"))
    assert again.json()["prepay_id"] == gpay.orders["B20261205002"]["prepay_id"] != prepay_id

    # Answers whose signature a client must refuse.
    gpay.fail("/v3/global/transactions/out-trade-no/", status=200, signature="")
    gpay.fail("/v3/global/transactions/out-trade-no/", status=200, signature="Zm9yZ2Vk")
    unsigned = call(gpay, "GET", QUERY, signed=False)
    assert unsigned.status_code == 200 and "Wechatpay-Signature" not in unsigned.headers
    forged = call(gpay, "GET", QUERY, signed=False)
    with pytest.raises(AssertionError):
        assert_signed(gpay, forged)
    call(gpay, "GET", QUERY)  # faults are used up


# --- notifications for forgery tests ---------------------------------------------------------
def test_forged_notifications(gpay: FakeWeChatPay) -> None:
    call(gpay, "POST", "/v3/global/transactions/jsapi", global_order())
    genuine = open_notification(gpay, gpay.pay("B20261205001"))
    platform = crypto.load_public_key(gpay.platform_public_key_pem)

    # Validly signed and encrypted, but about another merchant or another amount: only the content tells.
    other = gpay.notification("transaction", {**genuine, "sub_mchid": "1900000999"})
    assert open_notification(gpay, other)["sub_mchid"] == "1900000999" and other.url == NOTIFY_URL
    cheaper = {**genuine, "amount": {**genuine["amount"], "total": 1}}
    assert open_notification(gpay, gpay.notification("transaction", cheaper))["amount"]["total"] == 1

    stale = gpay.notification("transaction", genuine, timestamp=int(time.time()) - 301)
    assert int(stale.headers["Wechatpay-Timestamp"]) < time.time() - 300
    assert open_notification(gpay, stale) == genuine  # signed over its stale timestamp: only the clock tells

    def verifies(n: Notification) -> bool:
        h = n.headers
        return crypto.verify(platform, crypto.response_message(h["Wechatpay-Timestamp"], h["Wechatpay-Nonce"],
                                                               n.body), h["Wechatpay-Signature"])

    assert not verifies(gpay.notification("transaction", genuine, sign_with=MERCHANT_KEY))
    assert not verifies(gpay.notification("transaction", genuine, sign_with=PRIVATE_PEM))
    probe = gpay.notification("transaction", genuine, signature="WECHATPAY/SIGNTEST/abc")
    assert probe.headers["Wechatpay-Signature"] == "WECHATPAY/SIGNTEST/abc" and not verifies(probe)
    assert gpay.notification("transaction", genuine, serial="PUB_KEY_ID_0199").headers["Wechatpay-Serial"] == (
        "PUB_KEY_ID_0199")
    wrong_key = gpay.notification("transaction", genuine, apiv3_key=b"x" * 32)
    assert verifies(wrong_key)
    with pytest.raises(crypto.CryptoError):
        open_notification(gpay, wrong_key)
    closed = gpay.notification("refund", {"out_refund_no": "R0"}, event_type="REFUND.CLOSED", url="http://x/n")
    assert closed.envelope["summary"] == "退款关闭" and closed.url == "http://x/n"


def test_deliver_posts_the_exact_bytes(gpay: FakeWeChatPay) -> None:
    received: list[tuple[dict[str, str], bytes]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/pay/notify"
        call(gpay, "POST", "/v3/global/transactions/jsapi", global_order(notify_url=url))
        n = gpay.pay("B20261205001")
        assert n.url == url and gpay.deliver(n) == 204
    finally:
        server.shutdown()
        server.server_close()
    headers, body = received[0]
    assert body == n.body
    for name in ("Wechatpay-Timestamp", "Wechatpay-Nonce", "Wechatpay-Signature", "Wechatpay-Serial",
                 "Wechatpay-Signature-Type"):
        assert headers[name] == n.headers[name]


# --- the other modes ---------------------------------------------------------------------------
def test_domestic_mode(dpay: FakeWeChatPay) -> None:
    query = f"/v3/pay/transactions/out-trade-no/D20261205001?mchid={MCHID}"
    prepay = call(dpay, "POST", "/v3/pay/transactions/jsapi", domestic_order())
    assert prepay.status_code == 200 and prepay.json()["prepay_id"].startswith("wx")
    krw = domestic_order(amount={"total": 100, "currency": "KRW"}, out_trade_no="D20261205002")
    assert error(call(dpay, "POST", "/v3/pay/transactions/jsapi", krw)) == (400, "PARAM_ERROR")
    no_openid = domestic_order(payer={"sp_openid": OPENID}, out_trade_no="D20261205002")
    assert call(dpay, "POST", "/v3/pay/transactions/jsapi", no_openid).json()["detail"]["field"] == "/payer/openid"
    assert call(dpay, "GET", query).json()["trade_state"] == "NOTPAY"

    tx = open_notification(dpay, dpay.pay("D20261205001"))
    assert call(dpay, "GET", query).json() == tx
    assert "id" not in tx and "exchange_rate" not in tx and "sp_mchid" not in tx
    assert (tx["appid"], tx["mchid"], tx["payer"], tx["trade_state"]) == (SP_APPID, MCHID, {"openid": OPENID}, "SUCCESS")
    assert tx["amount"] == {"total": 26300, "currency": "CNY", "payer_total": 26300, "payer_currency": "CNY"}

    refund = {"out_trade_no": "D20261205001", "out_refund_no": "DR1", "amount": {"refund": 26300, "total": 26300,
                                                                                   "currency": "CNY"}}
    created = call(dpay, "POST", "/v3/refund/domestic/refunds", refund).json()
    assert created["status"] == "PROCESSING" and "id" not in created and created["amount"]["payer_refund"] == 26300
    assert call(dpay, "GET", "/v3/refund/domestic/refunds/DR1").json() == created
    assert call(dpay, "GET", query).json()["trade_state"] == "REFUND"
    n = dpay.finish_refund("DR1", "CLOSED")
    notice = open_notification(dpay, n)
    assert n.envelope["event_type"] == "REFUND.CLOSED" and notice["mchid"] == MCHID and "sub_mchid" not in notice
    assert notice["refund_status"] == "CLOSED" and "success_time" not in notice
    assert call(dpay, "GET", query).json()["trade_state"] == "SUCCESS"  # the failed refund gave the amount back
    again = {**refund, "out_refund_no": "DR2"}
    assert call(dpay, "POST", "/v3/refund/domestic/refunds", again).status_code == 200
    assert call(dpay, "POST", "/v3/pay/transactions/out-trade-no/D20261205001/close", {"mchid": MCHID}).status_code == 400


def test_global_direct_mode() -> None:
    with FakeWeChatPay(mchid=MCHID, merchant_public_key_pem=PUBLIC_PEM, apiv3_key=APIV3_KEY) as fake:
        body = {"appid": SP_APPID, "mchid": MCHID, "description": "乱打秀", "out_trade_no": "H20261205001",
                "notify_url": NOTIFY_URL, "trade_type": "JSAPI", "amount": {"total": 100, "currency": "CNY"},
                "payer": {"openid": OPENID}}
        assert call(fake, "POST", "/v3/global/transactions/jsapi", body).status_code == 200
        tx = open_notification(fake, fake.pay("H20261205001"))
        assert (tx["mchid"], tx["appid"], tx["payer"], tx["id"]) == (MCHID, SP_APPID, {"openid": OPENID}, tx["transaction_id"])
        assert tx["amount"]["payer_total"] == 100 and tx["exchange_rate"]["rate"] == 100_000_000
        query = f"/v3/global/transactions/out-trade-no/H20261205001?mchid={MCHID}"
        assert call(fake, "GET", query).json() == tx


def test_reset_and_keys(gpay: FakeWeChatPay) -> None:
    call(gpay, "POST", "/v3/global/transactions/jsapi", global_order())
    gpay.fail("/v3/global")
    gpay.reset()
    assert (gpay.orders, gpay.refunds, gpay.calls) == ({}, {}, [])
    assert call(gpay, "POST", "/v3/global/transactions/jsapi", global_order()).status_code == 200
    assert merchant_keys() is merchant_keys()
    assert re.fullmatch(r"PUB_KEY_ID_\d{28}", gpay.platform_key_id)
    assert gpay.platform_public_key_pem.startswith(b"-----BEGIN PUBLIC KEY-----")
