"""bot.pay.crypto against the vectors Tencent publishes in wechatpay-apiv3/wechatpay-go (snapshot 2025-07):
utils/sign_test.go (V1), utils/aes_test.go (V2), core/notify/notify_test.go (V3); D1-D3 are computed with the
V1 key on the official documentation's example inputs (../shared/reference/wechat_pay_and_kf_facts.md §7)."""
from __future__ import annotations

import json

import pytest

from bot.pay import crypto

# The key of utils/sign_test.go (its "TESTING KEY" label is PRIVATE KEY; a test key, published).
V1_KEY = b"""-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDZUJN33V+dSfvd
fL0Mu+39XrZNXFFMQSy1V15FpncHeV47SmV0TzTqZc7hHB0ddqAdDi8Z5k3TKqb7
6sOwYr5TcAfuR6PIPaleyE0/0KrljBum2Isa2Nyq7Dgc3ElBQ6YN4l/a+DpvKaz1
FSKmKrhLNskqokWVSlu4g8OlKlbPXQ9ibII14MZRQrrkTmHYHzfi7GXXM0thAKuR
0HNvyhTHBh4/lrYM3GaMvmWwkwvsMavnOex6+eioZHBOb1/EIZ/LzC6zuHArPpyW
3daGaZ1rtQB1vVzTyERAVVFsXXgBHvfFud3w3ShsJYk8JvMwK2RpJ5/gV0QSARcm
LDRUAlPzAgMBAAECggEBAMc7rDeUaXiWv6bMGbZ3BTXpg1FhdddnWUnYE8HfX/km
OFI7XtBHXcgYFpcjYz4D5787pcsk7ezPidAj58zqenuclmjKnUmT3pfbI5eCA2v4
C9HnbYDrmUPK1ZcADtka4D6ScDccpNYNa1g2TFHzkIrEa6H+q7S3O2fqxY/DRVtN
0JIXalBb8daaqL5QVzSmM2BMVnHy+YITJWIkP2a3pKs9C0W65JGDsnG0wVrHinHF
+cnhFZIbaPEI//DAFMc9NkrWOKVRTEgcCUxCFaHOZVNxDWZD7A2ZfJB2rK6eg//y
gEiFDR2h6mTaDowMB4YF2n2dsIO4/dCG8vPHI20jn4ECgYEA/ZGu6lEMlO0XZnam
AZGtiNgLcCfM/C2ZERZE7QTRPZH1WdK92Al9ndldsswFw4baJrJLCmghjF/iG4zi
hhBvLnOLksnZUfjdumxoHDWXo2QBWbI5QsWIE7AuTiWgWj1I7X4fCXSQf6i+M/y2
6TogQ7d0ANpZFyOkTNMn/tiJvLECgYEA22XqlamG/yfAGWery5KNH2DGlTIyd6xJ
WtJ9j3jU99lZ0bCQ5xhiBbU9ImxCi3zgTsoqLWgA/p00HhNFNoUcTl9ofc0G3zwT
D1y0ZzcnVKxGJdZ6ohW52V0hJStAigtjYAsUgjm7//FH7PiQDBDP1Wa6xSRkDQU/
aSbQxvEE8+MCgYEA3bb8krW7opyM0XL9RHH0oqsFlVO30Oit5lrqebS0oHl3Zsr2
ZGgoBlWBsEzk3UqUhTFwm/DhJLTSJ/TQPRkxnhQ5/mewNhS9C7yua7wQkzVmWN+V
YeUGTvDGDF6qDz12/vJAgSwDDRym8x4NcXD5tTw7mmNRcwIfL22SkysThIECgYAV
BgccoEoXWS/HP2/u6fQr9ZIR6eV8Ij5FPbZacTG3LlS1Cz5XZra95UgebFFUHHtC
EY1JHJY7z8SWvTH8r3Su7eWNaIAoFBGffzqqSVazfm6aYZsOvRY6BfqPHT3p/H1h
Tq6AbBffxrcltgvXnCTORjHPglU0CjSxVs7awW3AEQKBgB5WtaC8VLROM7rkfVIq
+RXqE5vtJfa3e3N7W3RqxKp4zHFAPfr82FK5CX2bppEaxY7SEZVvVInKDc5gKdG/
jWNRBmvvftZhY59PILHO2X5vO4FXh7suEjy6VIh0gsnK36mmRboYIBGsNuDHjXLe
BDa+8mDLkWu5nHEhOxy2JJZl
-----END PRIVATE KEY-----
"""
V1_SIGNATURE = ("BKyAfU4iMCuvXMXS0Wzam3V/cnxZ+JaqigPM5OhljS2iOT95OO6Fsuml2JkFANJU9K6q9bLlDhPXuoV"
                "z+pp4hAm6pHU4ld815U4jsKu1RkyaII+1CYBUYC8TK0XtJ8FwUXXz8vZHh58rrAVN1XwNyvD1vfpxrMT4SL536GLwvpUHlCqIMzoZUguLl"
                "i/K8V29QiOhuH6IEqLNJn8e9b3nwNcQ7be3CzYGpDAKBfDGPCqCv8Rw5zndhlffk2FEA70G4hvMwe51qMN/RAJbknXG23bSlObuTCN7Ndj"
                "1aJGH6/L+hdwfLpUtJm4QYVazzW7DFD27EpSQEqA8bX9+8m1rLg==")

# core/notify/notify_test.go: the platform certificate (same key pair as V1), headers, body, APIv3 key.
V3_CERT = b"""-----BEGIN CERTIFICATE-----
MIIDVzCCAj+gAwIBAgIJANfOWdH1ItcBMA0GCSqGSIb3DQEBCwUAMEIxCzAJBgNV
BAYTAlhYMRUwEwYDVQQHDAxEZWZhdWx0IENpdHkxHDAaBgNVBAoME0RlZmF1bHQg
Q29tcGFueSBMdGQwHhcNMjEwNDI3MDg1NTIzWhcNMzEwNDI1MDg1NTIzWjBCMQsw
CQYDVQQGEwJYWDEVMBMGA1UEBwwMRGVmYXVsdCBDaXR5MRwwGgYDVQQKDBNEZWZh
dWx0IENvbXBhbnkgTHRkMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA
2VCTd91fnUn73Xy9DLvt/V62TVxRTEEstVdeRaZ3B3leO0pldE806mXO4RwdHXag
HQ4vGeZN0yqm++rDsGK+U3AH7kejyD2pXshNP9Cq5YwbptiLGtjcquw4HNxJQUOm
DeJf2vg6byms9RUipiq4SzbJKqJFlUpbuIPDpSpWz10PYmyCNeDGUUK65E5h2B83
4uxl1zNLYQCrkdBzb8oUxwYeP5a2DNxmjL5lsJML7DGr5znsevnoqGRwTm9fxCGf
y8wus7hwKz6clt3Whmmda7UAdb1c08hEQFVRbF14AR73xbnd8N0obCWJPCbzMCtk
aSef4FdEEgEXJiw0VAJT8wIDAQABo1AwTjAdBgNVHQ4EFgQUT1c7nd/SUO76HSoZ
umNUJv1R5PwwHwYDVR0jBBgwFoAUT1c7nd/SUO76HSoZumNUJv1R5PwwDAYDVR0T
BAUwAwEB/zANBgkqhkiG9w0BAQsFAAOCAQEAfTjxKRQMzNB/U6ZoCUS+BSNfa2Oh
0plMN6ZuzwiVVZwg1jywvv5yv04koS7Pd4i9E4gt9ZBUQXlpq+A3oOCEEHNRR6b2
kyazGRM7s0OP5X21WrbpSmKmU6K7hkfx30yYs08LVs/Q8DIhvaj1FCFeJzUCzYn/
fHMq4tsbKO0dKAeydPM/nrUZBmaYQVKMVOORGLFjFKVO7JV6Kq/R86ouhjEPgJOe
2xulNBUcjicqtZlBdEh/PWCYP2SpGVDclKm8jeo175T3EVAkdKzzmfpxtMmnMlmq
cTJOU9TxuGvNASMtjj7pYIerTx+xgZDXEVBWFW9PjJ0TV06tCRsgSHItgg==
-----END CERTIFICATE-----
"""
V3_TIMESTAMP, V3_NONCE, V3_SERIAL = "1624523846", "EcZ9Cmy4Xyx1i6RlJQzLcCyEqDa26NBz", "D7CE59D1F522D701"
V3_SIGNATURE = ("tJHIiIS9eB2hAYstmAmbbD3ZE5LiIm/Ug5tuL4fC0YOFRWIHV39UFIZXC0e9Wl6lBu6sKvkqDkzpqzBsVHyXF"
                "lbYZTOQrVdG4b6LfTnK4mikv9++ixJMd3vTf2yCqvBkh98zs3Ds5zsYQakzbcwhmw4fMJs4nPLws28H0UW9FjDR//rxELLwXvV1VEA1I"
                "BLX70xptjL8hrfUjEE8kkry6yNJTHZRU8CAc7qHli2Ng1V1qb9ARbK8A3ThmFmPQvRGrapI/jS2laKKgYUmfdEdkNO6B2Cke5e8VTxY4"
                "06ArAmQ90GAihDwIcb16TQMnzCMBoutnwZKNiKRACrFmtxw2Q==")
V3_BODY = ('{"id":"3119dfba-e649-5eec-ab1e-3412bc4d2e17","create_time":"2021-06-24T16:37:26+08:00",'
           '"resource_type":"encrypt-resource","event_type":"PAYSCORE.USER_OPEN_SERVICE","summary":"签约成功",'
           '"resource":{"original_type":"payscore","algorithm":"AEAD_AES_256_GCM",'
           '"ciphertext":"YDS3lKPaC4Y52Gf3uhft5qUBlIa8b428AWTtTauHQfQrRw+X1WpiuHIDy0vo1Vd6VEq67aVyqPdDYMkRVSDaZL3iZt'
           'tevRMOoPKMifozg6XPWjIZumks/GpT48lI4NizyeaqLBokNebthah3o1H76qSlO9NkDjp9bzmKLEYYH9TEklFUpsvPqOTOcgSLgh21YJXYR'
           '7dEBXFgRLiNIKRgO5JdXh1hccRUAlyVWxE54PXpnQ==","associated_data":"payscore","nonce":"Kj7QIyUiYx1q"}}'
           ).encode()
V3_APIV3_KEY = b"testMchAPIv3Key0"


@pytest.fixture(scope="module")
def key():  # type: ignore[no-untyped-def]
    return crypto.load_private_key(V1_KEY)


def test_v1_signature_matches_the_published_one(key) -> None:  # type: ignore[no-untyped-def]
    assert crypto.sign(key, b"source") == V1_SIGNATURE


def test_v2_aes_gcm_decrypts_the_published_ciphertext() -> None:
    plain = crypto.decrypt(b"testAPIv3Key0000", "wCq51qZv4Yfg", "FsdXzxryWfKwvLJKf8LG/ToRPTRh8RN9wROC",
                           "Dl56FrqWQJF1t9LtC3vEUsniZKvbqdR8")
    assert plain == b"Hello World"


def test_v3_notification_verifies_and_decrypts() -> None:
    public = crypto.load_public_key(V3_CERT)
    assert crypto.certificate_serial(V3_CERT) == V3_SERIAL
    assert crypto.verify(public, crypto.response_message(V3_TIMESTAMP, V3_NONCE, V3_BODY), V3_SIGNATURE)
    resource = json.loads(V3_BODY)["resource"]
    plain = json.loads(crypto.decrypt(V3_APIV3_KEY, resource["nonce"], resource["ciphertext"],
                                      resource["associated_data"]))
    assert plain["mchid"] == "1234567890"
    assert plain["out_contract_code"] == "21640bdbd08e473e828f3206a2741c6e"


def test_v3_fails_when_one_byte_of_the_body_changes() -> None:
    public = crypto.load_public_key(V3_CERT)
    tampered = V3_BODY.replace(b"PAYSCORE", b"PAYSCORF")
    assert not crypto.verify(public, crypto.response_message(V3_TIMESTAMP, V3_NONCE, tampered), V3_SIGNATURE)
    assert not crypto.verify(public, crypto.response_message(V3_TIMESTAMP, V3_NONCE, V3_BODY), "not base64!")
    assert not crypto.verify(public, crypto.response_message(V3_TIMESTAMP, V3_NONCE, V3_BODY),
                             "WECHATPAY/SIGNTEST/" + V3_SIGNATURE)


def test_v3_resource_refuses_a_wrong_key_or_associated_data() -> None:
    resource = json.loads(V3_BODY)["resource"]
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(b"testMchAPIv3Key1", resource["nonce"], resource["ciphertext"], "payscore")
    with pytest.raises(crypto.CryptoError):
        crypto.decrypt(V3_APIV3_KEY, resource["nonce"], resource["ciphertext"], "transaction")


@pytest.mark.parametrize(("path", "start", "end"), [
    ("/v3/certificates", "RjVFHMcrr9NsM4SiNmpFx6QPR99Wztxa", "chx0PyDjkQ=="),
    ("/v3/global/certificates", "bUtpw1N0czWY/ovhaHEuwf4ZU7KZ5Qac", "yEnrGJCpWA=="),
])
def test_d1_d2_request_signature_on_the_documented_example(key, path: str, start: str, end: str) -> None:  # type: ignore[no-untyped-def]
    header = crypto.authorization("GET", path, b"", "1900009191", "1DDE55AD98ED71D6EDD4A4A16996DE7B47773A8C",
                                  key, timestamp="1554208460", nonce_str="593BEC0C930BF1AFEB40B4A08C8FB242")
    items = crypto.parse_authorization(header)
    assert items["signature"].startswith(start) and items["signature"].endswith(end)
    assert items["mchid"] == "1900009191" and items["timestamp"] == "1554208460"
    assert items["nonce_str"] == "593BEC0C930BF1AFEB40B4A08C8FB242"


def test_d3_pay_sign_on_the_documented_example(key) -> None:  # type: ignore[no-untyped-def]
    params = crypto.jsapi_params("wx8888888888888888", "wx201410272009395522657a690389285100", key,
                                 timestamp="1414561699", nonce_str="5K8264ILTKCH16CQ2502SI8ZNMTM67VS")
    assert params["package"] == "prepay_id=wx201410272009395522657a690389285100"
    assert params["signType"] == "RSA" and all(isinstance(v, str) for v in params.values())
    assert params["paySign"].startswith("UV+EKQ3OdnOkUbbKaVi53s/67T59JbHx")
    assert params["paySign"].endswith("JMAqmkN2gg==")


def test_encrypt_round_trips_and_schema_is_checked(key) -> None:  # type: ignore[no-untyped-def]
    ct = crypto.encrypt(b"k" * 32, "abcdefghijkl", b'{"a":1}', "transaction")
    assert crypto.decrypt(b"k" * 32, "abcdefghijkl", ct, "transaction") == b'{"a":1}'
    assert crypto.parse_authorization('Bearer mchid="1"') == {}


def test_unloadable_keys_are_named() -> None:
    with pytest.raises(crypto.CryptoError, match="private key"):
        crypto.load_private_key(b"-----BEGIN PRIVATE KEY-----\nnope\n-----END PRIVATE KEY-----\n")
    with pytest.raises(crypto.CryptoError, match="public key"):
        crypto.load_public_key(b"garbage")
