"""WeChat API client: wechatpy's `WeChatClient` with one access token shared by every worker.

The token lives in Redis. When it is missing, one worker at a time fetches a new one from
`cgi-bin/stable_token` under a Redis lock and the others re-read it (checked again inside the lock).
On 40001 / 40014 / 42001 only the token that failed is expired (compare-and-delete), then the call
is retried once: a token another worker just refreshed is never thrown away.

Named calls (send a message, upload news, tags, menu) are `bot.wechat.gateway.WeChatGateway`'s; this module
only knows the token endpoint.
"""
from __future__ import annotations

import logging
from typing import Any

import redis
import requests
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException

from bot.infra import inline
from bot.infra.keys import Keys

log = logging.getLogger(__name__)

TOKEN_ERRORS = {40001, 40014, 42001}
_EXPIRE_IF_SAME = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class SharedTokenClient(WeChatClient):
    """`WeChatClient` against a configurable base URL, with its token shared through Redis."""

    def __init__(self, appid: str, secret: str, base_url: str, redis_client: redis.Redis, keys: Keys,
                 timeout: float = 5.0) -> None:
        super().__init__(appid, secret, timeout=timeout, auto_retry=False)
        self.base_url = base_url.rstrip("/")
        self.API_BASE_URL = f"{self.base_url}/cgi-bin/"
        self.redis = redis_client
        self.keys = keys
        self._expire_if_same = redis_client.register_script(_EXPIRE_IF_SAME)

    # --- the shared token -------------------------------------------------------------------
    @property
    def access_token(self) -> str:
        token = self.redis.get(self.keys.access_token())
        return _text(token) if token else self._refresh()

    def _refresh(self, force: bool = False) -> str:
        lock = self.redis.lock(self.keys.access_token_lock(), timeout=15, blocking_timeout=10)
        if not lock.acquire():
            raise WeChatClientException(-1, "timed out waiting for the access-token lock", client=self)
        try:
            token = self.redis.get(self.keys.access_token())
            if token and not force:
                return _text(token)  # another worker refreshed it while we waited
            result = self._fetch_stable_token(force)
            ttl = max(60, int(result.get("expires_in", 7200)) - 300)  # renew well before WeChat does
            self.redis.set(self.keys.access_token(), result["access_token"], ex=ttl)
            return result["access_token"]
        finally:
            try:
                lock.release()
            except redis.exceptions.LockError:
                log.warning("access-token lock expired before release")

    def _fetch_stable_token(self, force: bool) -> dict[str, Any]:
        log.info("fetching a stable access token")
        res = self._http.post(f"{self.API_BASE_URL}stable_token", timeout=self.timeout, json={
            "grant_type": "client_credential", "appid": self.appid, "secret": self.secret,
            "force_refresh": force,
        })
        try:
            res.raise_for_status()
            result = res.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatClientException(-1, f"stable_token failed: {exc}", client=self) from None
        if result.get("errcode") or "access_token" not in result:
            raise WeChatClientException(result.get("errcode", -1), result.get("errmsg", "no token"), client=self)
        return result

    def fetch_access_token(self) -> dict[str, Any]:
        token = self._refresh(force=True)
        return {"access_token": token}

    # --- calls: retry once on an invalid token ------------------------------------------------
    def _request(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        inline.check("the WeChat API")
        token = self.access_token
        params = dict(kwargs.pop("params", None) or {})
        params["access_token"] = token
        try:
            return self._call(method, url_or_endpoint, params=params, **kwargs)
        except WeChatClientException as exc:
            if exc.errcode not in TOKEN_ERRORS:
                raise
            log.info("access token rejected (%s), expiring it and retrying once", exc.errcode)
            self._expire_if_same(keys=[self.keys.access_token()], args=[token])
            params["access_token"] = self.access_token
            return self._call(method, url_or_endpoint, params=params, **kwargs)

    def _call(self, method: str, url_or_endpoint: str, **kwargs: Any) -> Any:
        # wechatpy turns HTTP error statuses into WeChatClientException but lets a timeout or a refused
        # connection escape as a requests error; callers handle one kind of failure.
        try:
            return super()._request(method, url_or_endpoint, **kwargs)
        except requests.RequestException as exc:
            raise WeChatClientException(None, f"{type(exc).__name__}: {exc}", client=self) from exc


def _text(value: bytes | str) -> str:
    """A Redis value as text (the client returns bytes unless built with decode_responses)."""
    return value.decode() if isinstance(value, bytes) else value
