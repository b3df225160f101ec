"""`GET /metrics`: Prometheus's scrape (bot/infra/metrics.py says what is counted and how).

Who may read it (config `metrics`): a caller with `Authorization: Bearer <metrics.token>` (METRICS_TOKEN), or
one whose address is inside `metrics.allow` (default: this host). The address is the TCP peer's
(`request.remote_addr`): the app trusts no X-Forwarded-For (it runs no ProxyFix), and a request that carries a
forwarding header came through a proxy, whose own address is all we see, so the allow-list does not apply to
it: behind nginx on the same host, 127.0.0.1 would otherwise open the metrics to the internet.
Refusals: 401 when a token would be taken, 403 when none is configured; the reason in the body.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
from typing import Any

from flask import Blueprint, Flask, Response, current_app, request

from bot.infra import metrics

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
FORWARDING_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
EXTENSION = "yjy-metrics"  # app.extensions key of this app's Figures, built on the first scrape


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.extensions[EXTENSION] = {}


@bp.get("/metrics")
def scrape() -> Response:
    ext = current_app.extensions["yjy"]
    refused = _refusal(ext.config.metrics)
    if refused is not None:
        return refused
    body = metrics.exposition(_figures(ext))
    return Response(body, headers={"Content-Type": metrics.CONTENT_TYPE, "Cache-Control": "no-store"})


def _refusal(config: Any) -> Response | None:
    """None when the caller may read the metrics, else the 401/403 that says why not."""
    header = request.headers.get("Authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else ""
    if token and config.token and hmac.compare_digest(token.encode(), config.token.encode()):
        return None
    forwarded = next((h for h in FORWARDING_HEADERS if h in request.headers), None)
    if not token and forwarded is None and _allowed(request.remote_addr, config.allow):
        return None
    if token:
        reason = "the bearer token is not metrics.token" if config.token else "no metrics.token is configured"
    elif forwarded:
        reason = (f"this request came through a proxy ({forwarded}): the metrics.allow networks do not apply, "
                  "send Authorization: Bearer <metrics.token>")
    else:
        reason = f"{request.remote_addr} is not in metrics.allow; send Authorization: Bearer <metrics.token>"
    log.warning("metrics refused from %s: %s", request.remote_addr, reason)
    if not config.token:
        return Response(f"forbidden: {reason}\n", status=403, mimetype="text/plain")
    response = Response(f"unauthorized: {reason}\n", status=401, mimetype="text/plain")
    response.headers["WWW-Authenticate"] = 'Bearer realm="yijiyou-metrics"'
    return response


def _allowed(address: str | None, networks: tuple[Any, ...]) -> bool:
    try:
        ip = ipaddress.ip_address((address or "").split("%")[0])  # an IPv6 zone ("fe80::1%eth0") is not part of it
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:  # a dual-stack socket reports ::ffff:a.b.c.d
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def _figures(ext: Any) -> metrics.Figures:
    """This app's figures, built on the first scrape (the live sources' Redis keys come from content)."""
    held = current_app.extensions[EXTENSION]
    if "figures" not in held:
        held["figures"] = metrics.Figures(ext.db, ext.redis, ext.keys, _live_keys(ext))
    return held["figures"]


def _live_keys(ext: Any) -> dict[str, list[str]]:
    """Where each live source keeps its readings: Seoul's weather cell and air (refreshed every run), every
    hotspot our places name (crowds), the exchange rates."""
    from bot.live import air, crowds, weather

    keys = ext.keys
    return {
        "rates": [keys.rates()],
        "weather": [keys.live(weather.KIND, weather.cell_key(weather.SEOUL_CELL))],
        "air": [keys.live(air.KIND, air.KEY)],
        "crowds": [keys.live(crowds.KIND, area) for area in crowds.hotspots_of(ext.content.places)],
    }
