"""An embedded WeChat Pay for the dev runner, the replay runner and the tests: a running `FakeWeChatPay`,
a merchant key pair written to files (the private one 0600), and the config overrides that point `pay.*`
at it. Clearly labelled: `pay.simulated` makes pages and cards say that no money moves.

    fake, overrides = embedded_pay(Path("var/dev-pay"), appid=config.wechat.appid)
    config = load_config(overrides={**overrides, ...})
    init_app(app, fake)      # the dev runner: POST /dev/pay/<ref> pays, a thread sweeps expired holds
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify, request

from bot.bookings import links, orders
from bot.devtools.fake_pay import FakeWeChatPay, merchant_keys

log = logging.getLogger(__name__)
SWEEP_SECONDS = 30.0

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


def _deliver(fake: FakeWeChatPay, notification: Any) -> None:
    try:
        log.info("embedded WeChat Pay: notification for %s answered %s", notification.plaintext.get("out_trade_no"),
                 fake.deliver(notification))
    except OSError as exc:  # requests' errors are OSErrors: the runner's URL unreachable
        log.warning("embedded WeChat Pay could not deliver to %s: %s", notification.url, type(exc).__name__)


def init_app(app: Flask, fake: FakeWeChatPay, sweep_seconds: float | None = SWEEP_SECONDS) -> None:
    """What the dev runner adds around the embedded fake: the booking page's simulated payment
    (`POST /dev/pay/<ref>` with the page's own link query) and a thread sweeping expired holds and lost
    notifications, as workers do in production."""
    bp = Blueprint("dev_pay", __name__)

    @bp.post("/dev/pay/<ref>")
    def simulate(ref: str) -> Any:
        s = current_app.extensions["yjy"].services
        booking = orders.get(s.db, ref)
        if booking is None or not links.opens(s.config.bookings.link_secret, booking, request.args,
                                              s.clock.now().date()):
            return jsonify({"error": "not_found"}), 404
        try:
            notification = fake.pay(booking.ref)
        except (KeyError, ValueError) as exc:  # never ordered, or paid or closed already
            return jsonify({"error": "not_payable", "detail": str(exc)}), 409
        # Delivered from another thread, as WeChat Pay would: this request is answered first.
        threading.Thread(target=_deliver, args=(fake, notification), daemon=True).start()
        return jsonify({"paid": booking.ref})

    app.register_blueprint(bp)

    if sweep_seconds is None:
        return

    def sweep_forever() -> None:
        stop = threading.Event()
        while not stop.wait(sweep_seconds):
            try:
                with app.app_context():
                    ext = app.extensions["yjy"]
                    ext.payments.sweep(ext.clock.now())
            except Exception:  # noqa: BLE001 - a development convenience: log and keep sweeping
                log.exception("payments sweep failed")

    threading.Thread(target=sweep_forever, name="payments-sweep", daemon=True).start()
