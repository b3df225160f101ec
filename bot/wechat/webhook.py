"""`/wechat`: WeChat's callback. Verify, decrypt, parse, hand to the pipeline, wrap the reply.

Status codes: 403 bad signature or timestamp, 400 malformed / refused XML or ciphertext, 413 too
large. Whatever happens after a request is verified, WeChat gets a 200 with a reply or "success".
"""
from __future__ import annotations

import logging
import secrets
import time
from typing import Any

from flask import Blueprint, Response, current_app, request

from bot.infra import metrics
from bot.wechat.inbound import to_incoming
from bot.wechat.protocol import ProtocolError, check_signature, check_timestamp, parse_xml
from bot.wechat.replies import SUCCESS

log = logging.getLogger(__name__)
bp = Blueprint("wechat", __name__)


def _ext() -> Any:
    return current_app.extensions["yjy"]


def _refuse(exc: ProtocolError) -> Response:
    metrics.webhook_rejected(exc.status)
    log.warning("webhook refused %s %s from %s: %s", request.method, request.path,
                request.headers.get("X-Forwarded-For", request.remote_addr), exc.reason)
    return Response(exc.reason, status=exc.status, mimetype="text/plain")


@bp.get("/wechat")
def verify() -> Response:
    """Server verification when the URL is saved in the WeChat admin console."""
    config = _ext().config
    args = request.args
    try:
        check_signature((config.wechat.token, args.get("timestamp", ""), args.get("nonce", "")),
                        args.get("signature"), "signature")
        check_timestamp(args.get("timestamp"), config.webhook.timestamp_window_seconds)
    except ProtocolError as exc:
        return _refuse(exc)
    return Response(args.get("echostr", ""), mimetype="text/plain")


@bp.post("/wechat")
def receive() -> Response:
    started = time.perf_counter()
    ext = _ext()
    config = ext.config
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    limit = config.webhook.max_body_bytes
    try:
        if request.content_length is not None and request.content_length > limit:
            raise ProtocolError(413, f"body over {limit} bytes")
        check_signature((config.wechat.token, timestamp, nonce), args.get("signature"), "signature")
        check_timestamp(timestamp, config.webhook.timestamp_window_seconds)
        body = request.stream.read(limit + 1)  # also bounds chunked bodies with no Content-Length
        if len(body) > limit:
            raise ProtocolError(413, f"body over {limit} bytes")
        data = parse_xml(body)
        encrypted = args.get("encrypt_type", "raw").lower() == "aes"
        if encrypted:
            if ext.envelope is None:
                raise ProtocolError(400, "encrypted message but no EncodingAESKey configured")
            if not isinstance(data.get("Encrypt"), str) or not data["Encrypt"]:
                raise ProtocolError(400, "encrypt_type=aes without an <Encrypt> element")
            # Only the ciphertext is trusted (msg_signature covers it); in compatible mode the plaintext fields
            # beside it are ignored: they are covered by no signature.
            plain = ext.envelope.decrypt(data["Encrypt"], args.get("msg_signature"), timestamp, nonce)
            data = parse_xml(plain.encode("utf-8"))
        elif ext.envelope is not None:
            # With an EncodingAESKey WeChat always sends the encrypted part (compatible and safe mode); a
            # plaintext-only POST is a signed URL replayed with a body of someone's choosing.
            raise ProtocolError(403, f"plaintext message refused: an EncodingAESKey is configured "
                                     f"(wechat.mode {config.wechat.mode}); only the encrypted part is trusted")
        elif not ext.replay_guard.same_body(timestamp, nonce, args.get("signature", ""), body):
            raise ProtocolError(403, "this signed request was already used with another body")
    except ProtocolError as exc:
        return _refuse(exc)

    msg = to_incoming(data)
    if not msg.known:
        log.info("unknown message type %r from %s answered with success", msg.describe(), msg.openid)
    body_out = ext.pipeline.handle(msg)
    if encrypted and body_out != SUCCESS and ext.envelope is not None:
        body_out = ext.envelope.encrypt(body_out, nonce or secrets.token_hex(8))
    metrics.reply_seconds(time.perf_counter() - started)
    return Response(body_out, mimetype="application/xml" if body_out != SUCCESS else "text/plain")


@bp.errorhandler(Exception)
def _last_resort(exc: Exception) -> Response:
    """A bug outside the handlers still must not show travelers "该公众号暂时无法提供服务"."""
    from werkzeug.exceptions import HTTPException

    if isinstance(exc, HTTPException):
        return exc  # type: ignore[return-value]
    log.exception("webhook failed unexpectedly; answered success")
    metrics.webhook_failed()
    return Response(SUCCESS, mimetype="text/plain")
