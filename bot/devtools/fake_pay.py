"""A fake WeChat Pay APIv3 server on 127.0.0.1: real HTTP, real RSA signatures, real AES-GCM.

It checks every request's Authorization like WeChat Pay (schema, mchid, 5-minute clock, SHA256withRSA with
the merchant's public key) and signs every answer, errors too, with a platform key of its own
(`platform_public_key_pem`, named `platform_key_id` in Wechatpay-Serial: the public-key mode). One path
family answers, chosen by `mode`: "global" (`/v3/global/...`; institutional when `sub_mchid` is set, else
direct) or "domestic" (`/v3/pay/...`, `/v3/refund/domestic/...`). Facts and sources:
../shared/reference/wechat_pay_and_kf_facts.md §0-§7; choices where the documentation is silent are
marked "[unconfirmed]" below.

    private_pem, public_pem = merchant_keys()
    with FakeWeChatPay(mchid="1900000100", sub_mchid="1900000109", appid="wx_sp_appid",
                       merchant_public_key_pem=public_pem, apiv3_key=b"k" * 32) as pay:
        ...                                     # the client orders at pay.url
        n = pay.pay("B20261205001")             # the traveler pays: SUCCESS, and the notification
        pay.deliver(n)                          # ... POSTed to the order's notify_url (status returned)
        n = pay.finish_refund("R20261205001")   # a refund ends: REFUND.SUCCESS (or CLOSED / ABNORMAL)
        pay.notification("transaction", {**n.plaintext, "sp_mchid": "1"})  # a forgery, validly signed
        pay.notification("transaction", tx, timestamp=1, signature="WECHATPAY/SIGNTEST/x")  # stale probe
        pay.fail("/v3/global/refunds", status=403, code="NOT_ENOUGH")   # next refund gets this error
        pay.fail("/v3/global/transactions/jsapi", status=200, delay=2.0)  # ... is done but answered late
        pay.fail("/v3/global/transactions/out-trade-no/", signature="")  # ... is answered unsigned

Money: Global orders carry `amount.total` in the currency's minor unit (KRW has none: whole won); the
traveler pays CNY at `krw_per_cny` (190 by default): payer_total (fen) = round-half-up(total / 190 * 100).
`exchange_rate.rate` is CNY per unit of the order currency x 10^8 (KRW at 190: 526316) [unconfirmed: a
third-party SDK says SETTLEMENT_RATE is pricing-to-settlement currency; do not compute with it].
Refunds give back payer_refund = round-half-up(refund / total * payer_total); the refund that completes
the total gives back exactly what is left, so the parts always add up to payer_total.
"""
from __future__ import annotations

import functools
import json
import math
import re
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from bot.devtools.local_server import LocalServer, QuietHandler, Served
from bot.pay import crypto

BEIJING = timezone(timedelta(hours=8))  # WeChat Pay writes every time in +08:00
MAX_SKEW = 300  # seconds a request's timestamp may be off ("不得超过5分钟")
_OUT_TRADE_NO = re.compile(r"[0-9A-Za-z_\-|*]{6,32}")
_OUT_REFUND_NO = re.compile(r"[0-9A-Za-z_\-|*@]{1,64}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_STATE_DESC = {"NOTPAY": "订单未支付", "SUCCESS": "支付成功", "CLOSED": "订单已关闭", "REFUND": "转入退款"}
_SUMMARY = {"TRANSACTION.SUCCESS": "支付成功", "REFUND.SUCCESS": "退款成功", "REFUND.CLOSED": "退款关闭",
            "REFUND.ABNORMAL": "退款异常"}
_FAULT_MESSAGES = {"SYSTEM_ERROR": "系统错误", "NOT_ENOUGH": "余额不足", "FREQUENCY_LIMITED": "频率超限",
                   "RATE_LIMITED": "频率超限", "BANK_ERROR": "银行系统异常"}
_MINOR_UNITS = {"KRW": 0, "CNY": 2}  # the order currencies the fake can convert to CNY


@functools.cache
def merchant_keys() -> tuple[bytes, bytes]:
    """(private PEM PKCS#8, public PEM) of one RSA-2048 merchant key per process (generating one takes ~50 ms)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return (key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()),
            key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))


@dataclass
class PayCall:
    method: str
    path: str  # without the query string
    query: dict[str, str]
    body: Any  # the parsed JSON, None when empty, the text when it is not JSON
    status: int = 0
    response: dict[str, Any] = field(default_factory=dict)  # {} for a 204
    at: float = field(default_factory=time.time)

    @property
    def accepted(self) -> bool:
        return 200 <= self.status < 300


@dataclass
class Notification:
    """What WeChat Pay would POST to `url`: send `body` byte for byte with `headers` (see `deliver`)."""
    url: str
    headers: dict[str, str]
    body: bytes
    plaintext: dict[str, Any]  # the decrypted resource

    @property
    def envelope(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class _Fault:
    prefix: str
    status: int
    code: str
    delay: float
    signature: str | None


class _ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message, self.detail = status, code, message, detail

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail:
            payload["detail"] = self.detail
        return payload


def _param_error(name: str, issue: str, location: str = "body") -> _ApiError:
    # Shaped like WeChat's: the field as a JSON pointer, where it was, what is wrong.
    return _ApiError(400, "PARAM_ERROR", f"{name}: {issue}",
                     {"field": "/" + name.replace(".", "/"), "location": location, "issue": issue})


def _sign_error(message: str) -> _ApiError:
    return _ApiError(401, "SIGN_ERROR", message)


# (method, path pattern, family, handler): the group captured is the order or refund number.
_ROUTES: list[tuple[str, re.Pattern[str], str, str]] = [(m, re.compile(p), f, h) for m, p, f, h in [
    ("POST", r"/v3/global/transactions/jsapi", "global", "_create_order"),
    ("GET", r"/v3/global/transactions/out-trade-no/([^/]+)", "global", "_query_order"),
    ("GET", r"/v3/global/transactions/id/([^/]+)", "global", "_query_order_by_id"),
    ("POST", r"/v3/global/transactions/out-trade-no/([^/]+)/close", "global", "_close_order"),
    ("POST", r"/v3/global/refunds", "global", "_create_refund"),
    ("GET", r"/v3/global/refunds/out-refund-no/([^/]+)", "global", "_query_refund"),
    ("POST", r"/v3/pay/transactions/jsapi", "domestic", "_create_order"),
    ("GET", r"/v3/pay/transactions/out-trade-no/([^/]+)", "domestic", "_query_order"),
    ("GET", r"/v3/pay/transactions/id/([^/]+)", "domestic", "_query_order_by_id"),
    ("POST", r"/v3/pay/transactions/out-trade-no/([^/]+)/close", "domestic", "_close_order"),
    ("POST", r"/v3/refund/domestic/refunds", "domestic", "_create_refund"),
    ("GET", r"/v3/refund/domestic/refunds/([^/]+)", "domestic", "_query_refund"),
]]


class FakeWeChatPay(Served):
    def __init__(self, *, mchid: str, merchant_public_key_pem: bytes, apiv3_key: bytes, mode: str = "global",
                 sub_mchid: str = "", appid: str = "", krw_per_cny: float = 190.0) -> None:
        if mode not in ("global", "domestic"):
            raise ValueError(f"mode must be 'global' or 'domestic', not {mode!r}")
        if mode == "domestic" and sub_mchid:
            raise ValueError("the domestic service-provider (partner) paths are not faked: no sub_mchid there")
        if len(apiv3_key) != 32:
            raise ValueError("the APIv3 key is 32 bytes")
        self.mchid, self.sub_mchid, self.appid, self.mode = mchid, sub_mchid, appid, mode
        self.apiv3_key = apiv3_key
        self.krw_per_cny = krw_per_cny
        self._merchant_key = crypto.load_public_key(merchant_public_key_pem)
        self._platform_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.platform_public_key_pem = self._platform_key.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
        self.platform_key_id = "PUB_KEY_ID_01" + _digits(26)
        self.calls: list[PayCall] = []
        self.orders: dict[str, dict[str, Any]] = {}  # out_trade_no -> {"request": body, "trade_state", ...}
        self.refunds: dict[str, dict[str, Any]] = {}  # out_refund_no -> {"request": body, "status", ...}
        self._faults: list[_Fault] = []
        self._lock = threading.RLock()
        self._http = LocalServer(self._handler_class())

    @property
    def institutional(self) -> bool:
        return self.mode == "global" and bool(self.sub_mchid)

    # --- test controls -----------------------------------------------------------------------
    def fail(self, path_prefix: str, *, status: int = 500, code: str = "SYSTEM_ERROR", delay: float = 0.0,
             times: int = 1, signature: str | None = None) -> None:
        """The next request (after its signature is accepted) whose path starts with `path_prefix` gets
        `status`/`code`. A status below 300 serves it normally: with `delay` it is done but answered late
        (a client may time out, then retry). `signature` replaces the answer's Wechatpay-Signature ("":
        no Wechatpay-* signature headers at all). Faults are consumed in the order they were added."""
        with self._lock:
            self._faults.extend(_Fault(path_prefix, status, code, delay, signature) for _ in range(times))

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()
            self.orders.clear()
            self.refunds.clear()
            self._faults.clear()

    def calls_to(self, path_prefix: str) -> list[PayCall]:
        with self._lock:
            return [c for c in self.calls if c.path.startswith(path_prefix)]

    def pay(self, out_trade_no: str, *, when: datetime | None = None) -> Notification:
        """The traveler pays (an aware `when`, now by default): SUCCESS at today's rate. Returns the
        TRANSACTION.SUCCESS notification, not delivered."""
        with self._lock:
            order = self.orders[out_trade_no]
            if order["trade_state"] != "NOTPAY":
                raise ValueError(f"order {out_trade_no} is {order['trade_state']}, it cannot be paid")
            amount = order["request"]["amount"]
            currency = amount.get("currency", "CNY")
            order.update(trade_state="SUCCESS", transaction_id="4200" + _digits(24),
                         success_time=_rfc3339(when or datetime.now(BEIJING)),
                         payer_total=self._payer_total(amount["total"], currency), rate=self._rate(currency))
            plaintext = self._transaction(order)
        return self.notification("transaction", plaintext, event_type="TRANSACTION.SUCCESS")

    def finish_refund(self, out_refund_no: str, status: str = "SUCCESS") -> Notification:
        """A refund ends (SUCCESS, CLOSED: failed) or turns ABNORMAL (not final); returns its notification."""
        if status not in ("SUCCESS", "CLOSED", "ABNORMAL"):
            raise ValueError(f"a refund ends SUCCESS, CLOSED or ABNORMAL, not {status!r}")
        with self._lock:
            refund = self.refunds[out_refund_no]
            if refund["status"] in ("SUCCESS", "CLOSED"):
                raise ValueError(f"refund {out_refund_no} is already {refund['status']}")
            refund["status"] = status
            if status == "SUCCESS":
                refund["success_time"] = _rfc3339(datetime.now(BEIJING))
            order = self.orders[refund["out_trade_no"]]
            if not self._live_refunds(refund["out_trade_no"]):  # every refund failed: simply paid again
                order["trade_state"] = "SUCCESS"
            plaintext = self._refund_notice(refund, order)
        return self.notification("refund", plaintext, event_type=f"REFUND.{status}")

    def notification(self, kind: str, plaintext: dict[str, Any], *, event_type: str | None = None,
                     timestamp: int | str | None = None, sign_with: RSAPrivateKey | bytes | None = None,
                     signature: str | None = None, serial: str | None = None, url: str | None = None,
                     apiv3_key: bytes | None = None) -> Notification:
        """A notification of `plaintext`, encrypted and signed as WeChat Pay does; each keyword forges one
        thing: another `timestamp`, a signature by another key (`sign_with`: key or PEM) or an explicit
        `signature` (e.g. a "WECHATPAY/SIGNTEST/..." probe), an unknown `serial`, another `apiv3_key`."""
        if kind not in ("transaction", "refund"):
            raise ValueError(f"kind is 'transaction' or 'refund', not {kind!r}")
        event = event_type or ("TRANSACTION.SUCCESS" if kind == "transaction" else "REFUND.SUCCESS")
        resource_nonce = _alnum(12)
        envelope = {
            "id": str(uuid.uuid4()), "create_time": _rfc3339(datetime.now(BEIJING)),
            "resource_type": "encrypt-resource", "event_type": event, "summary": _SUMMARY.get(event, "通知"),
            "resource": {"original_type": kind, "algorithm": "AEAD_AES_256_GCM",
                         "ciphertext": crypto.encrypt(apiv3_key or self.apiv3_key, resource_nonce,
                                                      _compact(plaintext), kind),
                         "associated_data": kind, "nonce": resource_nonce}}
        body = _compact(envelope)
        ts = str(int(time.time()) if timestamp is None else timestamp)
        nonce = crypto.nonce()
        key = (self._platform_key if sign_with is None
               else sign_with if isinstance(sign_with, RSAPrivateKey) else crypto.load_private_key(sign_with))
        if signature is None:
            signature = crypto.sign(key, crypto.response_message(ts, nonce, body))
        headers = {"Content-Type": "application/json", "Wechatpay-Timestamp": ts, "Wechatpay-Nonce": nonce,
                   "Wechatpay-Signature": signature, "Wechatpay-Serial": serial or self.platform_key_id,
                   "Wechatpay-Signature-Type": crypto.SCHEMA}
        return Notification(url if url is not None else self._notify_url(kind, plaintext), headers, body,
                            dict(plaintext))

    @staticmethod
    def deliver(n: Notification, timeout: float = 3) -> int:
        """POST the notification as WeChat Pay would; the receiver's HTTP status."""
        return requests.post(n.url, data=n.body, headers=n.headers, timeout=timeout).status_code

    # --- requests ----------------------------------------------------------------------------
    def _respond(self, method: str, target: str, authorization: str,
                 raw: bytes) -> tuple[int, dict[str, Any] | None, _Fault | None]:
        parts = urlsplit(target)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        call = PayCall(method, parts.path, query, _parse_body(raw))
        with self._lock:
            self.calls.append(call)
        fault = None
        try:
            self._authenticate(method, target, authorization, raw)
            fault = self._take_fault(parts.path)
            if fault and fault.status >= 300:
                raise _ApiError(fault.status, fault.code, _FAULT_MESSAGES.get(fault.code, f"injected {fault.code}"))
            with self._lock:
                status, payload = self._route(method, parts.path, query, call.body)
        except _ApiError as err:
            status, payload = err.status, err.payload()
        call.status, call.response = status, payload or {}
        if fault and fault.delay:
            time.sleep(fault.delay)
        return status, payload, fault

    def _authenticate(self, method: str, target: str, authorization: str, raw: bytes) -> None:
        items = crypto.parse_authorization(authorization)
        if not all(items.get(k) for k in ("mchid", "nonce_str", "signature", "timestamp", "serial_no")):
            raise _sign_error("Authorization 缺失，或不是 WECHATPAY2-SHA256-RSA2048 的五项")
        if items["mchid"] != self.mchid:
            raise _sign_error(f"商户号 {items['mchid']} 与签名密钥不匹配")
        ts = items["timestamp"]
        if not _TIMESTAMP.fullmatch(ts) or abs(time.time() - int(ts)) > MAX_SKEW:
            raise _sign_error("请求的时间戳与服务器时间相差不得超过5分钟")
        message = crypto.request_message(method, target, ts, items["nonce_str"], raw)
        if not crypto.verify(self._merchant_key, message, items["signature"]):
            # WeChat Pay shows its view of the signed message so a merchant can find the difference.
            raise _ApiError(401, "SIGN_ERROR", "签名错误", {
                "location": "authorization", "field": "signature", "issue": "sign not match",
                "sign_information": {"method": method, "url": target, "sign_message_length": len(message),
                                     "truncated_sign_message": message[:200].decode("utf-8", "replace")}})

    def _take_fault(self, path: str) -> _Fault | None:
        with self._lock:
            for i, fault in enumerate(self._faults):
                if path.startswith(fault.prefix):
                    return self._faults.pop(i)
        return None

    def _route(self, method: str, path: str, query: dict[str, str],
               body: Any) -> tuple[int, dict[str, Any] | None]:
        for route_method, pattern, family, handler in _ROUTES:
            match = pattern.fullmatch(path)
            if not match or route_method != method:
                continue
            if family != self.mode:
                if family == "domestic" and handler == "_create_order":
                    # How the domestic API answers an overseas merchant ID (§0).
                    raise _ApiError(400, "INVALID_REQUEST", "暂不支持境外支付")
                break
            number = unquote(match.group(1)) if match.groups() else ""
            result: tuple[int, dict[str, Any] | None] = getattr(self, handler)(number, query, body)
            return result
        raise _ApiError(404, "NOT_FOUND", f"{method} {path} 不存在")  # [unconfirmed] code of an unknown path

    # --- orders ------------------------------------------------------------------------------
    def _create_order(self, _: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        req = _json_object(body)
        self._validate_order(req)
        no = req["out_trade_no"]
        order = self.orders.get(no)
        if order is None:
            order = self.orders[no] = {"request": req, "prepay_id": _prepay_id(), "trade_state": "NOTPAY",
                                       "created_at": time.time(), "transaction_id": None, "success_time": None,
                                       "payer_total": None, "rate": None}
            return 200, {"prepay_id": order["prepay_id"]}
        if order["trade_state"] == "CLOSED":
            raise _ApiError(400, "ORDER_CLOSED", "订单已关闭")
        if order["trade_state"] != "NOTPAY":
            raise _ApiError(400, "ORDERPAID", "订单已支付")  # [unconfirmed] code for ordering a paid number
        differ = sorted(k for k in set(req) | set(order["request"]) if req.get(k) != order["request"].get(k))
        if differ:
            raise _ApiError(403, "OUT_TRADE_NO_USED", "商户订单号重复", {"differs": differ})
        return 200, {"prepay_id": order["prepay_id"]}  # same number, same body: the same prepay_id

    def _validate_order(self, req: dict[str, Any]) -> None:
        if self.institutional:
            _texts(req, "sp_appid", "sp_mchid", "sub_mchid")
            self._identity(req, self._merchant_fields())
            self._check_appid(req, "sp_appid")
        else:
            _texts(req, "appid", "mchid")
            self._identity(req, {"mchid": self.mchid})
            self._check_appid(req, "appid")
        _texts(req, "description", "out_trade_no", "notify_url")
        if len(req["description"]) > 127:
            raise _param_error("description", "长度不能超过127个字符")
        if not _OUT_TRADE_NO.fullmatch(req["out_trade_no"]):
            raise _param_error("out_trade_no", "6-32个字符，只能是数字、大小写字母和_-|*")
        notify = urlsplit(req["notify_url"])
        if notify.scheme not in ("http", "https") or not notify.netloc or notify.query:
            raise _param_error("notify_url", "须为可访问的 URL，不能携带参数")
        if self.mode == "global" and req.get("trade_type") != "JSAPI":
            raise _param_error("trade_type", "此字段为必填项，JSAPI 下单须为 JSAPI")
        self._order_amount(req)
        self._payer(req)

    def _order_amount(self, req: dict[str, Any]) -> None:
        total = _get(req, "amount.total")
        if not isinstance(total, int) or isinstance(total, bool) or total <= 0:
            raise _param_error("amount.total", "须为大于0的整数（币种的最小单位）")
        currency = _get(req, "amount.currency")
        if self.mode == "domestic":
            if currency not in (None, "CNY"):
                raise _param_error("amount.currency", "境内商户号仅支持人民币 CNY")
        elif currency not in _MINOR_UNITS:
            raise _param_error("amount.currency", f"不支持的标价币种 {currency}（此 fake 只认 KRW 与 CNY）")

    def _payer(self, req: dict[str, Any]) -> None:
        if not self.institutional:
            _texts(req, "payer.openid")
        elif _get(req, "payer.sub_openid"):
            _texts(req, "sub_appid")  # a sub_openid belongs to the sub-merchant's appid
        elif not _get(req, "payer.sp_openid"):
            raise _param_error("payer.sp_openid", "payer.sp_openid 与 payer.sub_openid 须填其一")

    def _query_order(self, no: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        self._identity(query, self._merchant_fields(), location="query")
        order = self.orders.get(no)
        if order is None:
            raise _ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        return 200, self._transaction(order)

    def _query_order_by_id(self, transaction_id: str, query: dict[str, str],
                           body: Any) -> tuple[int, dict[str, Any]]:
        self._identity(query, self._merchant_fields(), location="query")
        order = self._order_by_transaction_id(transaction_id)
        if order is None:  # an unpaid order has no transaction_id: it is only found by out_trade_no
            raise _ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        return 200, self._transaction(order)

    def _close_order(self, no: str, query: dict[str, str], body: Any) -> tuple[int, None]:
        self._identity(_json_object(body), self._merchant_fields())
        order = self.orders.get(no)
        if order is None:
            raise _ApiError(404, "ORDER_NOT_EXIST", "订单不存在")
        if order["trade_state"] in ("SUCCESS", "REFUND"):
            raise _ApiError(400, "ORDERPAID", "订单已支付，不能关闭")
        # The Global rule "not within 5 minutes of ordering" is not enforced [its error code is unknown].
        order["trade_state"] = "CLOSED"
        return 204, None

    def _transaction(self, order: dict[str, Any]) -> dict[str, Any]:
        """The order as the query answers it and TRANSACTION.SUCCESS carries it."""
        req, state = order["request"], order["trade_state"]
        paid = state in ("SUCCESS", "REFUND")
        tx: dict[str, Any] = {}
        if self.institutional:
            tx.update({k: req[k] for k in ("sp_mchid", "sub_mchid", "sp_appid", "sub_appid") if k in req})
        else:
            tx.update(appid=req["appid"], mchid=req["mchid"])
        tx["out_trade_no"] = req["out_trade_no"]
        if paid and self.mode == "global":
            tx["id"] = order["transaction_id"]  # the docs disagree which of the two Global sends: both
        if paid:
            tx["transaction_id"] = order["transaction_id"]
        tx.update(trade_type="JSAPI", trade_state=state, trade_state_desc=_STATE_DESC[state])
        if "attach" in req:
            tx["attach"] = req["attach"]
        amount: dict[str, Any] = {"total": req["amount"]["total"], "currency": req["amount"].get("currency", "CNY")}
        if paid:
            tx.update(bank_type="OTHERS", success_time=order["success_time"], payer=dict(req["payer"]))
            amount.update(payer_total=order["payer_total"], payer_currency="CNY")
        tx["amount"] = amount
        if paid and self.mode == "global":
            tx["exchange_rate"] = {"type": "SETTLEMENT_RATE", "rate": order["rate"]}
        return tx

    # --- refunds -----------------------------------------------------------------------------
    def _create_refund(self, _: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        req = _json_object(body)
        if self.mode == "global":
            self._identity(req, self._merchant_fields())
        _texts(req, "out_refund_no")
        if not _OUT_REFUND_NO.fullmatch(req["out_refund_no"]):
            raise _param_error("out_refund_no", "1-64个字符，只能是数字、大小写字母和_-|*@")
        for name in ("amount.refund", "amount.total"):
            value = _get(req, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise _param_error(name, "须为大于0的整数（币种的最小单位）")
        currency = _get(req, "amount.currency")
        if self.mode == "global" and not currency:
            raise _param_error("amount.currency", "此字段为必填项")
        order = self._order_for_refund(req)
        no, refund_amount = req["out_refund_no"], req["amount"]["refund"]
        earlier = self.refunds.get(no)
        if earlier is not None:  # same out_refund_no: the same refund, however often it is asked for
            if earlier["out_trade_no"] != order["request"]["out_trade_no"] or earlier["refund"] != refund_amount:
                raise _ApiError(400, "INVALID_REQUEST", "退款单号已用于另一笔退款")
            return 200, self._refund_view(earlier, order)
        return 200, self._new_refund(req, order, currency or "CNY")

    def _order_for_refund(self, req: dict[str, Any]) -> dict[str, Any]:
        out_trade_no, transaction_id = req.get("out_trade_no"), req.get("transaction_id")
        if not out_trade_no and not transaction_id:
            raise _param_error("out_trade_no", "transaction_id 与 out_trade_no 须填其一")
        order = self.orders.get(out_trade_no) if out_trade_no else self._order_by_transaction_id(transaction_id)
        if order is None or (transaction_id and order["transaction_id"] != transaction_id):
            raise _ApiError(404, "RESOURCE_NOT_EXISTS", "订单不存在")
        return order

    def _new_refund(self, req: dict[str, Any], order: dict[str, Any], currency: str) -> dict[str, Any]:
        total, refund_amount = req["amount"]["total"], req["amount"]["refund"]
        order_amount = order["request"]["amount"]
        if order["trade_state"] not in ("SUCCESS", "REFUND"):
            raise _ApiError(400, "INVALID_REQUEST", "订单未支付，不能退款")  # [unconfirmed] code
        if total != order_amount["total"]:
            raise _param_error("amount.total", "与原订单金额不一致")
        if currency != order_amount.get("currency", "CNY"):
            raise _param_error("amount.currency", "退款币种必须与支付币种一致")
        live = self._live_refunds(order["request"]["out_trade_no"])
        refunded = sum(r["refund"] for r in live)
        if refunded + refund_amount > total:
            raise _ApiError(400, "INVALID_REQUEST", "申请退款金额超过订单可退金额")  # [unconfirmed] code
        if refunded + refund_amount == total:  # the last part: exactly what is left, no rounding drift
            payer_refund = order["payer_total"] - sum(r["payer_refund"] for r in live)
        else:
            payer_refund = _round_half_up(refund_amount / total * order["payer_total"])
        refund = {"request": req, "out_refund_no": req["out_refund_no"],
                  "out_trade_no": order["request"]["out_trade_no"], "refund_id": "50" + _digits(27),
                  "refund": refund_amount, "payer_refund": payer_refund, "status": "PROCESSING",
                  "create_time": _rfc3339(datetime.now(BEIJING)), "success_time": None}
        self.refunds[refund["out_refund_no"]] = refund
        order["trade_state"] = "REFUND"  # 转入退款 once a refund is accepted
        return self._refund_view(refund, order)

    def _query_refund(self, no: str, query: dict[str, str], body: Any) -> tuple[int, dict[str, Any]]:
        if self.institutional:  # the documented query names the sub-merchant; sp_mchid is checked if sent
            self._identity(query, {"sub_mchid": self.sub_mchid}, location="query",
                           optional={"sp_mchid": self.mchid})
        elif self.mode == "global":
            self._identity(query, {"mchid": self.mchid}, location="query")
        refund = self.refunds.get(no)
        if refund is None:
            raise _ApiError(404, "RESOURCE_NOT_EXISTS", "退款单不存在")
        return 200, self._refund_view(refund, self.orders[refund["out_trade_no"]])

    def _refund_view(self, refund: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
        """A refund as the refund API and its query answer it."""
        currency = order["request"]["amount"].get("currency", "CNY")
        amount: dict[str, Any] = {"total": order["request"]["amount"]["total"], "refund": refund["refund"],
                                  "payer_total": order["payer_total"], "payer_refund": refund["payer_refund"]}
        view: dict[str, Any] = {}
        if self.mode == "global":
            view.update(self._merchant_fields())
            view["id"] = refund["refund_id"]  # the Global SDK reads `id`, the domestic docs `refund_id`
            amount.update(currency=currency, payer_currency="CNY", settlement_refund=refund["refund"],
                          settlement_currency=currency,
                          exchange_rate={"type": "SETTLEMENT_RATE", "rate": order["rate"]})
        else:
            amount.update(settlement_refund=refund["refund"], settlement_total=amount["total"],
                          discount_refund=0, currency="CNY", refund_fee=0)
        view.update(refund_id=refund["refund_id"], out_refund_no=refund["out_refund_no"],
                    transaction_id=order["transaction_id"], out_trade_no=refund["out_trade_no"],
                    channel="ORIGINAL", user_received_account="支付用户零钱", create_time=refund["create_time"],
                    status=refund["status"], funds_account="UNSETTLED" if self.mode == "global" else "AVAILABLE")
        if refund["success_time"]:
            view["success_time"] = refund["success_time"]
        view["amount"] = amount
        return view

    def _refund_notice(self, refund: dict[str, Any], order: dict[str, Any]) -> dict[str, Any]:
        """The plaintext of a REFUND.* notification."""
        notice: dict[str, Any] = dict(self._merchant_fields())
        notice.update(out_trade_no=refund["out_trade_no"], transaction_id=order["transaction_id"],
                      out_refund_no=refund["out_refund_no"], refund_id=refund["refund_id"],
                      refund_status=refund["status"])
        if refund["success_time"]:
            notice["success_time"] = refund["success_time"]
        notice["user_received_account"] = "支付用户零钱"
        if self.mode == "global":
            notice["recv_account"] = "支付用户零钱"  # the Global SDK's name for the same field: both
        currency = order["request"]["amount"].get("currency", "CNY")
        notice["amount"] = {"total": order["request"]["amount"]["total"], "refund": refund["refund"],
                            "payer_total": order["payer_total"], "payer_refund": refund["payer_refund"],
                            "currency": currency, "payer_currency": "CNY"}
        return notice

    def _live_refunds(self, out_trade_no: str) -> list[dict[str, Any]]:
        """An order's refunds that did not fail (CLOSED gives the amount back to refund)."""
        return [r for r in self.refunds.values() if r["out_trade_no"] == out_trade_no and r["status"] != "CLOSED"]

    # --- shared checks -----------------------------------------------------------------------
    def _merchant_fields(self) -> dict[str, str]:
        """How a request names this merchant: the institution and the sub-merchant, or the merchant."""
        if self.institutional:
            return {"sp_mchid": self.mchid, "sub_mchid": self.sub_mchid}
        return {"mchid": self.mchid}

    @staticmethod
    def _identity(source: dict[str, Any], expected: dict[str, str], *, location: str = "body",
                  optional: dict[str, str] | None = None) -> None:
        for name in expected:
            if not source.get(name):
                raise _param_error(name, "此字段为必填项", location)
        for name, value in {**expected, **(optional or {})}.items():
            if name in source and source[name] != value:
                raise _ApiError(400, "MCH_NOT_EXISTS", f"{name} {source[name]} 不存在或不属于调用方")

    def _check_appid(self, req: dict[str, Any], name: str) -> None:
        if self.appid and req[name] != self.appid:
            raise _ApiError(400, "APPID_MCHID_NOT_MATCH", f"{name} 与商户号不匹配")

    def _order_by_transaction_id(self, transaction_id: str | None) -> dict[str, Any] | None:
        return next((o for o in self.orders.values()
                     if transaction_id and o["transaction_id"] == transaction_id), None)

    def _notify_url(self, kind: str, plaintext: dict[str, Any]) -> str:
        with self._lock:
            refund = self.refunds.get(plaintext.get("out_refund_no") or "") if kind == "refund" else None
            if refund and refund["request"].get("notify_url"):
                return str(refund["request"]["notify_url"])
            order = self.orders.get(plaintext.get("out_trade_no") or "")
            return str(order["request"]["notify_url"]) if order else ""

    # --- money -------------------------------------------------------------------------------
    def _rate(self, currency: str) -> int:
        """CNY per unit of `currency`, x 10^8."""
        return 10**8 if currency == "CNY" else _round_half_up(10**8 / self.krw_per_cny)

    def _payer_total(self, total: int, currency: str) -> int:
        """What the traveler pays, in fen."""
        if currency == "CNY":
            return total
        return _round_half_up(total / 10 ** _MINOR_UNITS[currency] / self.krw_per_cny * 100)

    # --- HTTP --------------------------------------------------------------------------------
    def _signed_headers(self, data: bytes, fault: _Fault | None) -> dict[str, str]:
        ts, nonce = str(int(time.time())), crypto.nonce()
        headers = {"Request-ID": secrets.token_hex(20).upper(), "Wechatpay-Nonce": nonce,
                   "Wechatpay-Timestamp": ts, "Wechatpay-Serial": self.platform_key_id,
                   "Wechatpay-Signature-Type": crypto.SCHEMA,
                   "Wechatpay-Signature": crypto.sign(self._platform_key, crypto.response_message(ts, nonce, data))}
        if fault and fault.signature == "":
            return {"Request-ID": headers["Request-ID"]}
        if fault and fault.signature is not None:
            headers["Wechatpay-Signature"] = fault.signature
        return headers

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(QuietHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                # self.path is the request target exactly as sent: what the client signed.
                status, payload, fault = fake._respond(self.command, self.path,
                                                       self.headers.get("Authorization") or "", raw)
                data = b"" if payload is None else _compact(payload)
                self.respond(status, data, "application/json; charset=utf-8" if data else "",
                             fake._signed_headers(data, fault))

            do_GET = do_POST = _serve

        return Handler


def _get(source: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(source, dict):
            return None
        source = source.get(part)
    return source


def _texts(req: dict[str, Any], *names: str) -> None:
    """Each named field (dotted for nested ones) is a non-empty string."""
    for name in names:
        value = _get(req, name)
        if not isinstance(value, str) or not value:
            raise _param_error(name, "此字段为必填项，须为字符串")


def _json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _ApiError(400, "PARAM_ERROR", "请求体须为 JSON 对象")
    return body


def _parse_body(raw: bytes) -> Any:
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def _compact(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _rfc3339(when: datetime) -> str:
    return when.astimezone(BEIJING).replace(microsecond=0).isoformat()  # 2026-12-05T10:00:00+08:00


def _round_half_up(value: float) -> int:
    return math.floor(value + 0.5)


def _digits(n: int) -> str:
    return "".join(secrets.choice(string.digits) for _ in range(n))


def _alnum(n: int) -> str:
    return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(n))


def _prepay_id() -> str:
    # "wx" + the time to the second + 20 characters, like wx201410272009395522657a690389285100.
    return "wx" + datetime.now(BEIJING).strftime("%Y%m%d%H%M%S") + secrets.token_hex(10)
