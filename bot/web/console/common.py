"""What every console page shares: the blueprint, the login and CSRF guard, rendering in the staff member's
language, error pages, and the audit record of each action (`staff:<name>`, as the admin API writes it)."""
from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

import redis
from flask import Blueprint, Response, current_app, g, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException

from bot.infra import audit
from bot.infra.clock import in_seoul
from bot.web.console import auth, texts

log = logging.getLogger(__name__)
bp = Blueprint("console", __name__, url_prefix="/admin", template_folder="templates", static_folder="static",
               static_url_path="/static")
PUBLIC = {"console.login", "console.login_post", "console.static"}
NAV = (("console.dashboard", "dashboard"), ("console.unanswered", "unanswered"), ("console.inbox", "inbox"),
       ("console.orders", "orders"), ("console.broadcasts", "broadcasts"), ("console.channels", "channels"))


def ext() -> Any:
    return current_app.extensions["yjy"]


def me() -> auth.Session:
    """The logged-in staff member (the guard let nobody else through)."""
    session: auth.Session = g.console_session
    return session


def lang() -> str:
    session = g.get("console_session")
    if session is not None:
        return session.lang
    wanted = request.args.get("lang") or request.form.get("lang") or texts.DEFAULT_LANG
    return wanted if wanted in texts.languages(ext().config.content_dir) else texts.DEFAULT_LANG


def words() -> dict[str, Any]:
    return texts.texts(ext().config.content_dir, lang())


def remember(**changes: Any) -> None:
    """Change the session (language, preview openid); the cookie is written with the response."""
    g.console_session = auth.with_changes(me(), **changes)
    g.console_dirty = True


def audit_detail(**detail: Any) -> None:
    g.audit_detail = {**g.get("audit_detail", {}), **detail}


def audit_read(**detail: Any) -> None:
    """Audit this GET too: it showed travelers' messages or exported data."""
    g.audit_read = True
    audit_detail(**detail)


# --- formatting helpers the templates get ------------------------------------------------------------
def when(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return in_seoul(value).strftime(fmt) if value is not None else "–"


def number(value: int | float | None) -> str:
    return "–" if value is None else f"{value:,}"


def lang_url(code: str) -> str:
    """This page in another language (a form's answer page: the dashboard, or the login form)."""
    if request.method == "GET" and request.endpoint:
        return url_for(request.endpoint, **{**(request.view_args or {}), **request.args.to_dict(), "lang": code})
    return url_for("console.dashboard" if g.get("console_session") else "console.login", lang=code)


def render(template: str, code: int = 200, **context: Any) -> Response:
    session = g.get("console_session")
    shown = lang()
    body = render_template(f"console/{template}.html", T=words(), lang=shown, me=session,
                           csrf=session.csrf if session else "", nav=NAV, when=when, n=number, lang_url=lang_url,
                           languages=sorted(texts.languages(ext().config.content_dir)), **context)
    return Response(body, status=code, mimetype="text/html")


def refuse(status: int, message: str, **context: Any) -> Response:
    """A page saying why, with the right status: never a stack trace."""
    return render("error", status, status=status, message=message, **context)


def back(endpoint: str, **values: Any) -> Response:
    """POST/redirect/GET: the page the action belongs to, with what happened in the query."""
    return redirect(url_for(endpoint, **values), code=303)  # type: ignore[return-value]


def client_address() -> str:
    return request.remote_addr or "unknown"


@bp.before_request
def guard() -> Response | None:
    config = ext().config
    session = auth.load(config, request)
    if session is not None and auth.revoked(ext().redis, ext().keys, session):
        session = None  # logged out: a copy of the cookie kept from before is refused too
    g.console_session = session
    g.console_dirty = False
    if request.endpoint in PUBLIC:
        return None
    if session is None:
        if request.method == "GET":
            target = request.full_path.rstrip("?")
            return redirect(url_for("console.login", next=target, lang=request.args.get("lang") or None))  # type: ignore[return-value]
        return refuse(403, words()["errors"]["session"])
    if request.method == "POST" and not (auth.same_origin(config, request) and auth.csrf_ok(session.csrf, request)):
        log.warning("console refused %s %s from %s: CSRF check failed", request.method, request.path,
                    client_address())
        audit_detail(refused="csrf")
        return refuse(403, words()["errors"]["csrf"])
    wanted = request.args.get("lang")
    if wanted and wanted != session.lang and wanted in texts.languages(config.content_dir):
        remember(lang=wanted)
    return None


@bp.after_request
def finish(response: Response) -> Response:
    if request.endpoint == "console.static":
        return response
    response.headers["Cache-Control"] = "private, no-store"  # travelers' messages and staff sessions
    # The app's no-referrer makes a browser send "Origin: null" with our own forms; same-origin keeps every URL
    # of the console inside it and lets the Origin check see where a POST comes from.
    response.headers["Referrer-Policy"] = "same-origin"
    session = g.get("console_session")
    if session is not None and g.get("console_dirty"):
        auth.save(ext().config, response, session)
    if session is not None and (request.method == "POST" or g.get("audit_read")):
        audit.record(ext().db, actor=session.actor, method=request.method, path=request.path,
                     status=response.status_code, detail=g.get("audit_detail", {}))
    return response


@bp.errorhandler(SQLAlchemyError)
@bp.errorhandler(redis.RedisError)
def unavailable(exc: Exception) -> Response:
    log.error("console %s %s: storage unavailable (%s: %s)", request.method, request.path, type(exc).__name__,
              str(exc).splitlines()[0][:200] if str(exc) else "")
    return refuse(503, words()["errors"]["unavailable"])


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    known = words()["errors"]
    return refuse(code, known.get(f"http_{code}") or exc.description or exc.name)


def today() -> date:
    return ext().clock.now().date()
