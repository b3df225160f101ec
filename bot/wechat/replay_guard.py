"""Signed queries used once per body, for plaintext messages.

WeChat's `signature` covers only token, timestamp and nonce, not the body: a signed URL copied from a log can
be sent again with another body (another FromUserName, another text) within the timestamp window. With an
EncodingAESKey the webhook trusts only the encrypted part (its `msg_signature` covers the ciphertext). In plain
mode each signed query is remembered with a digest of its body for the timestamp window: the same query with
the same body is WeChat's retry (answered from the dedup cache as before); with another body it is refused.
"""
from __future__ import annotations

import hashlib
import logging
from typing import Any

from bot.infra.keys import Keys

log = logging.getLogger(__name__)


class ReplayGuard:
    def __init__(self, redis: Any, keys: Keys, window_seconds: int) -> None:
        self.redis = redis
        self.keys = keys
        self.ttl = max(1, int(window_seconds) * 2)  # a timestamp is accepted window seconds either side of now

    def same_body(self, timestamp: str, nonce: str, signature: str, body: bytes) -> bool:
        """False when this signed query was seen before with a different body. A Redis failure lets the
        message through (logged): refusing every traveler for a guard that cannot run would be worse."""
        query = hashlib.sha256(f"{timestamp}\n{nonce}\n{signature}".encode()).hexdigest()
        digest = hashlib.sha256(body).hexdigest()
        key = self.keys.signed_query(query)
        try:
            if self.redis.set(key, digest, nx=True, ex=self.ttl):  # first time: one round trip
                return True
            earlier = self.redis.get(key)  # seen before: a retry, or a forgery
        except Exception as exc:  # noqa: BLE001 - any Redis failure
            log.warning("replay guard unavailable (%s): plaintext message let through", type(exc).__name__)
            return True
        if earlier is None:  # expired in between
            return True
        earlier = earlier.decode() if isinstance(earlier, bytes) else str(earlier)
        return earlier == digest
