"""An embedded WeChat Pay for the dev runner, the replay runner and the tests: a running `FakeWeChatPay`,
a merchant key pair written to files (the private one 0600), and the config overrides that point `pay.*`
at it. Clearly labelled: `pay.simulated` makes pages and cards say that no money moves.

    fake, overrides = embedded_pay(Path("var/dev-pay"), appid=config.wechat.appid)
    config = load_config(overrides={**overrides, ...})
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from bot.devtools.fake_pay import FakeWeChatPay, merchant_keys

MCHID = "1900000100"  # the acquirer's sp_mchid in the fake's institutional (Global) mode
SUB_MCHID = "1900000109"  # ours under it
CERT_SERIAL = "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"  # the fake checks the signature, not the serial


def embedded_pay(folder: Path, *, appid: str, mode: str = "global", simulated: bool = True,
                 sub_mchid: str = SUB_MCHID) -> tuple[FakeWeChatPay, dict[str, Any]]:
    """Start a fake WeChat Pay; (the fake, config overrides). The caller closes the fake."""
    folder.mkdir(parents=True, exist_ok=True)
    private_pem, public_pem = merchant_keys()
    key_file = folder / "merchant_key.pem"
    fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(private_pem)
    apiv3_key = secrets.token_hex(16)  # 32 characters, as the merchant platform sets it
    fake = FakeWeChatPay(mchid=MCHID, sub_mchid=sub_mchid if mode == "global" else "", appid=appid,
                         merchant_public_key_pem=public_pem, apiv3_key=apiv3_key.encode(), mode=mode).start()
    platform_file = folder / "platform_public_key.pem"
    platform_file.write_bytes(fake.platform_public_key_pem)
    overrides = {
        "pay.mode": mode, "pay.api_base_url": fake.url, "pay.mchid": MCHID,
        "pay.sub_mchid": sub_mchid if mode == "global" else "", "pay.cert_serial": CERT_SERIAL,
        "pay.private_key_file": str(key_file), "pay.apiv3_key": apiv3_key,
        "pay.platform_public_key_file": str(platform_file), "pay.platform_key_id": fake.platform_key_id,
        "pay.simulated": simulated,
    }
    return fake, overrides
