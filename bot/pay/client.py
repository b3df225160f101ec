"""A small WeChat Pay APIv3 client: JSAPI orders, query, close, refunds, notifications.

One client speaks both path families: `global` (WeChat Pay Global, `/v3/global/...`: a Korean merchant, usually
a sub-merchant of an acquirer in institutional mode) and `domestic` (`/v3/pay/...`). The base URL, mode and
merchant ids come from config (`PayConfig`), so tests run it against `bot.devtools.fake_pay` and production
against the acquirer's host. Every request is signed; every answer must carry a valid WeChat Pay signature
(a 2xx without one is treated as forged); a notification is verified, checked for freshness and decrypted.

    pay = WeChatPay(config.pay, appid=config.wechat.appid, notify_url=f"{config.public_base_url}/pay/notify")
    prepay_id = pay.jsapi("YJ7K4M2P", "乱打秀 12-09 20:00", 110000, "KRW", openid, expires)
    params = pay.jsapi_params(prepay_id)                # for WeixinJSBridge.invoke('getBrandWCPayRequest', ...)
    notice = pay.notification(request.headers, raw_body)  # SignatureError / NoticeError when forged or broken
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote, urlencode

import requests
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey

from bot.infra import inline
from bot.infra.config import PayConfig
from bot.pay import crypto

log = logging.getLogger(__name__)
MAX_SKEW_SECONDS = 300  # the official SDKs refuse older (or newer) signatures
PROBE_PREFIX = "WECHATPAY/SIGNTEST/"  # WeChat's deliberate bad signature: checks that we verify


class PayError(Exception):
    """WeChat Pay refused a call (`code` as documented, e.g. OUT_TRADE_NO_USED) or could not be reached
    (`status` 0, code NETWORK)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"WeChat Pay {status} {code}: {message}")
        self.status, self.code, self.message = status, code, message

    @property
    def retryable(self) -> bool:
        return self.status == 0 or self.status >= 500 or self.code in ("SYSTEM_ERROR", "FREQUENCY_LIMITED")


class SignatureError(Exception):
    """A response or notification whose WeChat Pay signature is missing, stale, unknown or wrong."""


class NoticeError(ValueError):
    """A verified notification that cannot be read (bad JSON, unknown algorithm, does not decrypt)."""


@dataclass(frozen=True)
class Notice:
    """A verified, decrypted notification."""

    id: str
    event_type: str  # TRANSACTION.SUCCESS, REFUND.SUCCESS, REFUND.CLOSED, REFUND.ABNORMAL
    resource: dict[str, Any] = field(repr=False)  # the decrypted transaction or refund

    @property
    def is_refund(self) -> bool:
        return self.event_type.startswith("REFUND.")


@dataclass(frozen=True)
class Transaction:
    """A payment as WeChat Pay reports it (query or notification), the same for both path families."""

    out_trade_no: str
    transaction_id: str
    trade_state: str  # SUCCESS, NOTPAY, CLOSED, REFUND, REVOKED, USERPAYING, PAYERROR
    total: int
    currency: str
    merchant: str  # mchid, or sp_mchid in institutional mode
    sub_merchant: str
    appid: str
    payer_total: int | None = None
    payer_currency: str | None = None

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> Transaction:
        amount = data.get("amount") or {}
        try:
            return cls(out_trade_no=str(data["out_trade_no"]),
                       # the Global docs disagree on the name of WeChat's number: read both
                       transaction_id=str(data.get("transaction_id") or data.get("id") or ""),
                       trade_state=str(data["trade_state"]), total=int(amount["total"]),
                       currency=str(amount.get("currency") or "CNY"),
                       merchant=str(data.get("sp_mchid") or data.get("mchid") or ""),
                       sub_merchant=str(data.get("sub_mchid") or ""),
                       appid=str(data.get("sub_appid") or data.get("appid") or data.get("sp_appid") or ""),
                       payer_total=amount.get("payer_total"), payer_currency=amount.get("payer_currency"))
        except (KeyError, TypeError, ValueError) as exc:
            raise NoticeError(f"transaction without {exc}") from None


class WeChatPay:
    def __init__(self, config: PayConfig, *, appid: str, notify_url: str,
                 session: requests.Session | None = None) -> None:
        self.config = config
        self.appid = appid  # the appid our openids belong to (the Official Account)
        self.notify_url = notify_url
        self.http = session or requests.Session()
        g = config.mode == "global"
        self._paths = {
            "jsapi": "/v3/global/transactions/jsapi" if g else "/v3/pay/transactions/jsapi",
            "order": "/v3/global/transactions/out-trade-no/{}" if g else "/v3/pay/transactions/out-trade-no/{}",
            "refunds": "/v3/global/refunds" if g else "/v3/refund/domestic/refunds",
            "refund": "/v3/global/refunds/out-refund-no/{}" if g else "/v3/refund/domestic/refunds/{}",
        }

    # --- keys, loaded once ----------------------------------------------------------------------
    @cached_property
    def _private_key(self) -> RSAPrivateKey:
        return crypto.load_private_key(Path(self.config.private_key_file).read_bytes())

    @cached_property
    def _platform_key(self) -> RSAPublicKey:
        return crypto.load_public_key(Path(self.config.platform_public_key_file).read_bytes())

    # --- identity fields, by mode ---------------------------------------------------------------
    def _merchant_fields(self) -> dict[str, str]:
        c = self.config
        if c.institutional:
            return {"sp_mchid": c.mchid, "sub_mchid": c.sub_mchid}
        return {"mchid": c.mchid}

    def _merchant_query(self) -> str:
        return urlencode(self._merchant_fields())

    # --- calls -------------------------------------------------------------------------------------
    def jsapi(self, out_trade_no: str, description: str, total: int, currency: str, openid: str,
              time_expire: datetime) -> str:
        """Place a JSAPI order (the same out_trade_no and body again gives the same prepay_id)."""
        c = self.config
        body: dict[str, Any] = {"description": description[:127], "out_trade_no": out_trade_no,
                                "notify_url": self.notify_url,
                                "time_expire": time_expire.isoformat(timespec="seconds"),
                                "amount": {"total": total, "currency": currency}}
        if c.mode == "global":
            body["trade_type"] = "JSAPI"
            if c.institutional:
                sp_appid = c.sp_appid or self.appid
                body.update(sp_mchid=c.mchid, sub_mchid=c.sub_mchid, sp_appid=sp_appid)
                if sp_appid != self.appid:  # our Official Account's openid: sub_appid + sub_openid
                    body.update(sub_appid=self.appid, payer={"sub_openid": openid})
                else:
                    body["payer"] = {"sp_openid": openid}
            else:
                body.update(mchid=c.mchid, appid=self.appid, payer={"openid": openid})
        else:
            body.update(mchid=c.mchid, appid=self.appid, payer={"openid": openid})
        answer = self._call("POST", self._paths["jsapi"], body)
        prepay_id = answer.get("prepay_id")
        if not isinstance(prepay_id, str) or not prepay_id:
            raise PayError(200, "NO_PREPAY_ID", "the order answer carried no prepay_id")
        return prepay_id

    def query(self, out_trade_no: str) -> Transaction | None:
        """The order as WeChat Pay sees it; None when it never got it (ORDER_NOT_EXIST)."""
        path = self._paths["order"].format(quote(out_trade_no, safe="")) + "?" + self._merchant_query()
        try:
            return Transaction.parse(self._call("GET", path))
        except PayError as exc:
            if exc.code in ("ORDER_NOT_EXIST", "RESOURCE_NOT_EXISTS"):
                return None
            raise

    def close(self, out_trade_no: str) -> None:
        """Close an unpaid order so it can no longer be paid (204; closing a closed one is fine)."""
        self._call("POST", self._paths["order"].format(quote(out_trade_no, safe="")) + "/close",
                   self._merchant_fields())

    def refund(self, out_trade_no: str, out_refund_no: str, refund: int, total: int, currency: str,
               reason: str = "") -> dict[str, Any]:
        """Ask for a refund; the same out_refund_no again is the same refund. Accepted != paid out: the
        refund notification (or `query_refund`) says when it is."""
        body: dict[str, Any] = {"out_trade_no": out_trade_no, "out_refund_no": out_refund_no,
                                "notify_url": self.notify_url,
                                "amount": {"refund": refund, "total": total, "currency": currency}}
        if reason:
            body["reason"] = reason[:80]
        if self.config.mode == "global":
            body.update(self._merchant_fields())
        return self._call("POST", self._paths["refunds"], body)

    def query_refund(self, out_refund_no: str) -> dict[str, Any]:
        path = self._paths["refund"].format(quote(out_refund_no, safe=""))
        if self.config.mode == "global":
            path += "?" + self._merchant_query()
        return self._call("GET", path)

    def jsapi_params(self, prepay_id: str) -> dict[str, str]:
        return crypto.jsapi_params(self.appid, prepay_id, self._private_key)

    # --- verification --------------------------------------------------------------------------
    def verify(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> None:
        """Check a response's or notification's Wechatpay-* headers against its raw body."""
        signature = headers.get("Wechatpay-Signature") or ""
        timestamp = headers.get("Wechatpay-Timestamp") or ""
        nonce_str = headers.get("Wechatpay-Nonce") or ""
        serial = headers.get("Wechatpay-Serial") or ""
        if not signature or not timestamp or not nonce_str:
            raise SignatureError("no WeChat Pay signature")
        if signature.startswith(PROBE_PREFIX):
            raise SignatureError("signature probe")
        if serial != self.config.platform_key_id:
            raise SignatureError(f"unknown key {serial[:40]!r}")
        if not timestamp.isdigit() or abs((now or time.time()) - int(timestamp)) > MAX_SKEW_SECONDS:
            raise SignatureError("stale or malformed timestamp")
        if not crypto.verify(self._platform_key, crypto.response_message(timestamp, nonce_str, body), signature):
            raise SignatureError("signature does not verify")

    def notification(self, headers: Mapping[str, str], body: bytes, now: float | None = None) -> Notice:
        """Verify and decrypt a notification (raw body bytes, before any JSON parsing)."""
        self.verify(headers, body, now)
        try:
            envelope = json.loads(body)
            resource = envelope["resource"]
            if resource.get("algorithm") != "AEAD_AES_256_GCM":
                raise NoticeError(f"unknown algorithm {str(resource.get('algorithm'))[:40]!r}")
            plain = crypto.decrypt(self.config.apiv3_key.encode(), str(resource["nonce"]),
                                   str(resource["ciphertext"]), str(resource.get("associated_data") or ""))
            data = json.loads(plain)
            if not isinstance(data, dict):
                raise NoticeError("the resource is not an object")
            return Notice(id=str(envelope["id"])[:64], event_type=str(envelope["event_type"])[:40], resource=data)
        except crypto.CryptoError as exc:
            raise NoticeError(str(exc)) from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise NoticeError(f"malformed notification: {type(exc).__name__} {exc}"[:200]) from None

    # --- transport -----------------------------------------------------------------------------
    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        inline.check("WeChat Pay")
        c = self.config
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode() if body is not None else b""
        headers = {"Authorization": crypto.authorization(method, path, data, c.mchid, c.cert_serial,
                                                         self._private_key),
                   "Accept": "application/json", "Content-Type": "application/json",
                   "User-Agent": "yijiyou-seoul/1 (+requests)", "Wechatpay-Serial": c.platform_key_id}
        try:
            # the exact signed bytes go out: data=, never json= (which would serialise again)
            answer = self.http.request(method, c.api_base_url + path, data=data or None, headers=headers,
                                       timeout=c.timeout_seconds)
        except requests.RequestException as exc:
            raise PayError(0, "NETWORK", type(exc).__name__) from None
        try:
            self.verify(answer.headers, answer.content)
        except SignatureError as exc:
            log.error("WeChat Pay %s %s answered %s without a valid signature: %s", method, path.split("?")[0],
                      answer.status_code, exc)
            raise PayError(answer.status_code, "BAD_SIGNATURE", str(exc)) from None
        if answer.status_code == 204 or not answer.content:
            payload: dict[str, Any] = {}
        else:
            try:
                payload = answer.json()
            except ValueError:
                raise PayError(answer.status_code, "BAD_JSON", answer.text[:200]) from None
        if answer.status_code >= 300:
            raise PayError(answer.status_code, str(payload.get("code") or "HTTP"), str(payload.get("message"))[:300])
        return payload
