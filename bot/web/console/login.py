"""`/admin/login` and `/admin/logout`: a staff token for a 12-hour session cookie, and back."""
from __future__ import annotations

import logging

from flask import Response, g, redirect, request, url_for

from bot.infra.config import find_admin
from bot.web.console import auth
from bot.web.console.common import bp, client_address, ext, lang, me, render, words

log = logging.getLogger(__name__)


def _limiter() -> auth.Limiter:
    e = ext()
    return auth.Limiter(e.redis, e.keys)


def _target(raw: str | None) -> str:
    """Where to go after logging in: a console page of ours, never another site ("//evil", "/\\evil")."""
    if raw and raw.startswith("/admin/") and not raw.startswith(("//", "/\\")) and "\\" not in raw:
        return raw
    return url_for("console.dashboard")


def _form(status: int = 200, error: str = "") -> Response:
    config = ext().config
    value, signed = auth.login_form_token(config, request)
    response = render("login", status, form_token=value, next=_target(request.values.get("next")), error=error,
                      configured=bool(config.admin_logins))
    auth.set_login_cookie(config, response, signed)
    return response


@bp.get("/login")
def login() -> Response:
    if g.console_session is not None:
        return redirect(_target(request.args.get("next")))  # type: ignore[return-value]
    return _form()


@bp.post("/login")
def login_post() -> Response:
    config, t = ext().config, words()["login"]
    address = client_address()
    if not (auth.same_origin(config, request) and auth.login_form_ok(config, request)):
        log.warning("console login refused from %s: CSRF check failed", address)
        return _form(403, t["expired"])
    limiter = _limiter()
    wait = limiter.blocked_for(address)
    if wait:
        log.warning("console login refused from %s: too many failed logins (%d s left)", address, wait)
        return _form(429, t["too_many"].format(minutes=(wait + 59) // 60))
    found = find_admin(config.admin_logins, request.form.get("token", "").strip())
    if found is None:
        limiter.failed(address)
        log.warning("console login failed from %s: %s", address,
                    "no token given" if not request.form.get("token") else "unknown token")
        return _form(401, t["failed"])
    limiter.succeeded(address)
    session = auth.new_session(config, found, lang())
    g.console_session, g.console_dirty = session, True
    log.info("console login: %s from %s", session.actor, address)
    response: Response = redirect(_target(request.form.get("next")), code=303)  # type: ignore[assignment]
    response.delete_cookie(auth.LOGIN_COOKIE, path=auth.PATH)
    return response


@bp.post("/logout")
def logout() -> Response:
    session = me()
    log.info("console logout: %s", session.actor)
    response: Response = redirect(url_for("console.login", lang=session.lang), code=303)  # type: ignore[assignment]
    auth.revoke(ext().redis, ext().keys, session)
    auth.clear(ext().config, response)
    g.console_dirty = False
    return response
