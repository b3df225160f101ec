"""WeChat Pay APIv3 cryptography, over `cryptography` only (domestic and Global use the same rules).

    authorization("POST", "/v3/global/transactions/jsapi", body, mchid, serial, key)   # request header
    verify(public_key, response_message(ts, nonce, body), signature)                # response / notification
    decrypt(apiv3_key, nonce, ciphertext, associated_data)                          # a notification's resource
    jsapi_params(appid, prepay_id, key)                                             # getBrandWCPayRequest

Checked against the vectors Tencent publishes in wechatpay-apiv3/wechatpay-go (tests/unit/test_pay_crypto.py).
"""
from __future__ import annotations

import base64
import binascii
import re
import secrets
import time

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives.asymmetric.padding import PKCS1v15
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey, RSAPublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

SCHEMA = "WECHATPAY2-SHA256-RSA2048"
_AUTH_ITEM = re.compile(r'(\w+)="([^"]*)"')


class CryptoError(ValueError):
    """A key that cannot be loaded, or a ciphertext that does not decrypt (wrong key or tampered)."""


def load_private_key(pem: bytes) -> RSAPrivateKey:
    """The merchant API private key (apiclient_key.pem, PKCS#8 or PKCS#1)."""
    try:
        key = load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CryptoError(f"not a PEM private key: {exc}") from None
    if not isinstance(key, RSAPrivateKey):
        raise CryptoError("the merchant key must be RSA")
    return key


def load_public_key(pem: bytes) -> RSAPublicKey:
    """WeChat Pay's public key (PUB_KEY_ID_...) or a platform certificate, both PEM."""
    try:
        key = (x509.load_pem_x509_certificate(pem).public_key() if b"CERTIFICATE" in pem
               else load_pem_public_key(pem))
    except ValueError as exc:
        raise CryptoError(f"not a PEM public key or certificate: {exc}") from None
    if not isinstance(key, RSAPublicKey):
        raise CryptoError("WeChat Pay's key must be RSA")
    return key


def certificate_serial(pem: bytes) -> str:
    """A platform certificate's serial as WeChat names it in Wechatpay-Serial: upper-case hex."""
    return format(x509.load_pem_x509_certificate(pem).serial_number, "X")


def sign(key: RSAPrivateKey, message: bytes) -> str:
    """SHA256withRSA (PKCS#1 v1.5), Base64."""
    return base64.b64encode(key.sign(message, PKCS1v15(), SHA256())).decode()


def verify(key: RSAPublicKey, message: bytes, signature: str) -> bool:
    try:
        key.verify(base64.b64decode(signature, validate=True), message, PKCS1v15(), SHA256())
        return True
    except (InvalidSignature, binascii.Error, ValueError):
        return False


def request_message(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a request's signature covers: `path` keeps its query string exactly as sent."""
    return f"{method}\n{path}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def response_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """What a response's or a notification's Wechatpay-Signature covers: the raw body bytes."""
    return f"{timestamp}\n{nonce}\n".encode() + body + b"\n"


def nonce() -> str:
    return secrets.token_hex(16)  # 32 characters, WeChat's limit


def authorization(method: str, path: str, body: bytes, mchid: str, serial_no: str, key: RSAPrivateKey,
                  timestamp: str | None = None, nonce_str: str | None = None) -> str:
    """The Authorization header of one request (`mchid` is the acquirer's sp_mchid in institutional mode)."""
    ts = timestamp or str(int(time.time()))
    n = nonce_str or nonce()
    signature = sign(key, request_message(method, path, ts, n, body))
    return (f'{SCHEMA} mchid="{mchid}",nonce_str="{n}",signature="{signature}",'
            f'timestamp="{ts}",serial_no="{serial_no}"')


def parse_authorization(header: str) -> dict[str, str]:
    """The items of an Authorization header ({} when it is not WeChat Pay's schema)."""
    schema, _, rest = header.partition(" ")
    return dict(_AUTH_ITEM.findall(rest)) if schema == SCHEMA else {}


def decrypt(apiv3_key: bytes, nonce_str: str, ciphertext: str, associated_data: str = "") -> bytes:
    """AEAD_AES_256_GCM: `ciphertext` is Base64 of the ciphertext followed by the 16-byte tag."""
    try:
        return AESGCM(apiv3_key).decrypt(nonce_str.encode(), base64.b64decode(ciphertext, validate=True),
                                         associated_data.encode())
    except (InvalidTag, binascii.Error, ValueError) as exc:
        raise CryptoError(f"resource does not decrypt: {type(exc).__name__}") from None


def encrypt(apiv3_key: bytes, nonce_str: str, plaintext: bytes, associated_data: str = "") -> str:
    """The other way round, as WeChat Pay does for notifications (the fake server uses it)."""
    return base64.b64encode(AESGCM(apiv3_key).encrypt(nonce_str.encode(), plaintext,
                                                      associated_data.encode())).decode()


def jsapi_params(appid: str, prepay_id: str, key: RSAPrivateKey, timestamp: str | None = None,
                 nonce_str: str | None = None) -> dict[str, str]:
    """The arguments of WeixinJSBridge's getBrandWCPayRequest (and wx.requestPayment): all strings;
    paySign covers appId, timeStamp, nonceStr and package, not signType."""
    ts = timestamp or str(int(time.time()))
    n = nonce_str or nonce()
    package = f"prepay_id={prepay_id}"
    pay_sign = sign(key, f"{appid}\n{ts}\n{n}\n{package}\n".encode())
    return {"appId": appid, "timeStamp": ts, "nonceStr": n, "package": package, "signType": "RSA",
            "paySign": pay_sign}
