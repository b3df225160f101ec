"""Who is logged in to the console: a staff token (config `admin.tokens`) exchanged for a signed session cookie.

The cookie (`yjy_console`, Path=/admin, HttpOnly, SameSite=Strict, Secure when the public base URL is https)
holds the staff member's name, a fingerprint of their token (an HMAC: changing or removing the token ends its
sessions), a CSRF token, the page language and the openid they preview broadcasts on. It is signed with
`admin.console_secret` (CONSOLE_SECRET, else derived from the link secret) and lasts 12 hours from the login,
however often it is rewritten. The token itself is never in it.

Every POST carries the session's CSRF token in its form (the login form: the value of a short-lived cookie of
its own, double-submit) and, when the browser sends an Origin, comes from our own origin.
Failed logins are counted per client address in Redis (10 per 15 minutes, then 429 until the window ends).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlsplit

import redis
from flask import Request, Response
from itsdangerous import BadSignature, URLSafeTimedSerializer

from bot.infra.config import AdminLogin, Config
from bot.infra.keys import Keys

log = logging.getLogger(__name__)
COOKIE = "yjy_console"
LOGIN_COOKIE = "yjy_console_login"  # the login form's CSRF value, before there is a session
PATH = "/admin"
SESSION_SECONDS = 12 * 3600
LOGIN_FORM_SECONDS = 3600
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 15 * 60


@dataclass(frozen=True)
class Session:
    name: str  # the token's name, or token:<sha256 prefix> for a bare token
    actor: str  # as audited: staff:<name> or token:<sha256 prefix>
    fingerprint: str  # HMAC of the token: the session ends when the token leaves the config
    csrf: str
    issued: float  # epoch seconds of the login: the session ends SESSION_SECONDS later
    lang: str = "zh-CN"
    openid: str = ""  # where the staff member previews broadcasts (their own phone)

    def expires_in(self, now: float | None = None) -> int:
        return int(self.issued + SESSION_SECONDS - (time.time() if now is None else now))


def _signer(config: Config, salt: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config.console_secret, salt=salt)


def fingerprint(config: Config, login: AdminLogin) -> str:
    return hmac.new(config.console_secret.encode(), login.token.encode(), hashlib.sha256).hexdigest()[:32]


def new_session(config: Config, login: AdminLogin, lang: str) -> Session:
    return Session(name=login.name or login.actor, actor=login.actor, fingerprint=fingerprint(config, login),
                   csrf=secrets.token_urlsafe(32), issued=time.time(), lang=lang)


def load(config: Config, request: Request) -> Session | None:
    """The session this browser holds, if it is signed, unexpired and its token is still configured."""
    raw = request.cookies.get(COOKIE, "")
    if not raw:
        return None
    try:
        data = _signer(config, "console-session").loads(raw, max_age=SESSION_SECONDS)
        session = Session(**data)
    except (BadSignature, TypeError, ValueError):
        return None
    if session.expires_in() <= 0:
        return None
    if not any(hmac.compare_digest(session.fingerprint, fingerprint(config, login))
               for login in config.admin_logins):
        return None  # the token was changed or removed: its sessions end with it
    return session


def revoke(client: redis.Redis, keys: Keys, session: Session) -> bool:
    """Logout: this session is refused from now on, a copy of its cookie too, until it would have expired.
    False (logged): Redis did not take it, and only this browser forgot the cookie."""
    try:
        client.set(keys.console_logout(session.csrf), b"1", ex=max(session.expires_in(), 1))
        return True
    except redis.RedisError as exc:
        log.warning("console logout of %s not remembered (Redis: %s): a copy of its cookie works until it "
                    "expires", session.actor, type(exc).__name__)
        return False


def revoked(client: redis.Redis, keys: Keys, session: Session) -> bool:
    """Whether this session was logged out. With Redis down, no: the console stays usable in an outage (and the
    log says so), as the login limit does."""
    try:
        return bool(client.exists(keys.console_logout(session.csrf)))
    except redis.RedisError as exc:
        log.warning("console logouts unknown (Redis: %s): session of %s let through", type(exc).__name__,
                    session.actor)
        return False


def save(config: Config, response: Response, session: Session) -> None:
    response.set_cookie(COOKIE, _signer(config, "console-session").dumps(asdict(session)),
                        max_age=max(session.expires_in(), 0), path=PATH, httponly=True, samesite="Strict",
                        secure=config.public_base_url.startswith("https://"))


def clear(config: Config, response: Response) -> None:
    response.delete_cookie(COOKIE, path=PATH, httponly=True, samesite="Strict",
                           secure=config.public_base_url.startswith("https://"))


def with_changes(session: Session, **changes: Any) -> Session:
    return replace(session, **changes)


# --- CSRF ------------------------------------------------------------------------------------------
def same_origin(config: Config, request: Request) -> bool:
    """No Origin (older browsers, same-origin GET-like posts) passes; one that is not ours does not."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    ours = {urlsplit(config.public_base_url).netloc, request.host}
    parts = urlsplit(origin)
    return origin != "null" and parts.scheme in ("http", "https") and parts.netloc in ours


def csrf_ok(expected: str, request: Request) -> bool:
    given = request.form.get("csrf", "")
    return bool(expected and given) and hmac.compare_digest(expected.encode(), given.encode())


def login_form_token(config: Config, request: Request) -> tuple[str, str]:
    """(the value the login form carries, the signed cookie holding it): reuses a valid one."""
    signer = _signer(config, "console-login-form")
    try:
        value = str(signer.loads(request.cookies.get(LOGIN_COOKIE, ""), max_age=LOGIN_FORM_SECONDS))
        return value, request.cookies[LOGIN_COOKIE]
    except (BadSignature, KeyError):
        value = secrets.token_urlsafe(24)
        return value, signer.dumps(value)


def login_form_ok(config: Config, request: Request) -> bool:
    try:
        value = str(_signer(config, "console-login-form").loads(request.cookies.get(LOGIN_COOKIE, ""),
                                                                 max_age=LOGIN_FORM_SECONDS))
    except BadSignature:
        return False
    return csrf_ok(value, request)


def set_login_cookie(config: Config, response: Response, signed: str) -> None:
    response.set_cookie(LOGIN_COOKIE, signed, max_age=LOGIN_FORM_SECONDS, path=PATH, httponly=True,
                        samesite="Strict", secure=config.public_base_url.startswith("https://"))


# --- failed logins -----------------------------------------------------------------------------------
class Limiter:
    """Failed logins per client address in Redis, shared by every worker.

    When Redis is down the limiter lets logins through and logs it: tokens are 16+ random characters, so the
    limit is a second line against guessing, while operators locked out of the console during an outage could
    not see what the outage costs. The failures are still logged (without the token).
    """

    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self.redis = client
        self._key = keys.login_failures

    def blocked_for(self, address: str) -> int:
        """Seconds until this address may try again; 0: it may."""
        try:
            pipe = self.redis.pipeline()
            pipe.get(self._key(address))
            pipe.ttl(self._key(address))
            count, ttl = pipe.execute()
        except redis.RedisError as exc:
            log.warning("console login limit unknown (Redis: %s); letting the attempt through", type(exc).__name__)
            return 0
        return max(int(ttl), 1) if count is not None and int(count) >= MAX_FAILURES else 0

    def failed(self, address: str) -> None:
        try:
            pipe = self.redis.pipeline()
            pipe.set(self._key(address), 0, ex=FAILURE_WINDOW_SECONDS, nx=True)  # the window starts at the first
            pipe.incr(self._key(address))
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("console login failure not counted (Redis: %s)", type(exc).__name__)

    def succeeded(self, address: str) -> None:
        try:
            self.redis.delete(self._key(address))
        except redis.RedisError:
            pass  # the count runs out with its window
