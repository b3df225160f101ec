"""`/admin/broadcasts`: the list with results, one broadcast's batches, a file's dry run → create (a frozen
plan, nothing sent) → send, which is a confirmation page asking for the audience number, then the POST.
A preview goes to the staff member's own phone (the openid is remembered in the session).

Every step calls `bot.broadcasts.service`; its refusals become pages with the reason: a bad file 400 (with
its line), an audience that cannot be sent to 422, no such broadcast 404, sent or cancelled 409.
"""
from __future__ import annotations

import re
from typing import Any

from flask import Response, request

from bot.broadcasts.errors import MessageError, NoScheduler, PlanError
from bot.infra.yamlfile import SourceError
from bot.web.console.common import audit_detail, back, bp, ext, me, refuse, remember, render, words

MAX_FILE_BYTES = 256 * 1024
OPENID = re.compile(r"[A-Za-z0-9_-]{6,64}")
SENDABLE = ("planned", "stopped", "sending")


def _service() -> Any:
    from bot.broadcasts.service import broadcast_service  # the broadcast machinery loads on first use

    return broadcast_service(ext())


def _examples() -> list[str]:
    return sorted(p.name for p in (ext().config.content_dir / "broadcasts").glob("*.yaml"))


def _source() -> str | None:
    """The file uploaded, else the text pasted; None for a file too large to be a broadcast."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        raw = upload.read(MAX_FILE_BYTES + 1)
        if len(raw) > MAX_FILE_BYTES:
            return None
        return raw.decode("utf-8", errors="replace")
    return request.form.get("yaml", "")


@bp.get("/broadcasts")
def broadcasts() -> Response:
    return render("broadcasts", items=_service().newest(50))


@bp.get("/broadcasts/<int:broadcast_id>")
def broadcast(broadcast_id: int) -> Response:
    try:
        found = _service().status(broadcast_id)
    except LookupError:
        return refuse(404, words()["broadcasts"]["not_found"].format(id=broadcast_id))
    return render("broadcast", item=found.broadcast, batches=found.batches,
                  sendable=found.broadcast.status in SENDABLE, done=request.args.get("done", ""))


@bp.get("/broadcasts/new")
def broadcast_new() -> Response:
    source = ""
    example = request.args.get("example", "")
    if example in _examples():
        source = (ext().config.content_dir / "broadcasts" / example).read_text(encoding="utf-8")
    return _new_page(source)


def _new_page(source: str, status: int = 200, **context: Any) -> Response:
    return render("broadcast_new", status, source=source, examples=_examples(), openid=me().openid, **context)


def _draft(source: str) -> Any:
    """The draft of a pasted or uploaded file, or a page saying what is wrong with it (and where)."""
    t = words()["broadcasts"]
    if not source.strip():
        return _new_page(source, 400, error=t["empty_file"])
    try:
        return _service().load_yaml(source, "broadcast.yaml")
    except SourceError as exc:
        where = t["line"].format(line=exc.line) if exc.line else ""
        return _new_page(source, 400, error=f"{where}{exc.message}")


def _dry_run(draft: Any) -> Any:
    try:
        return _service().dry_run(draft), None
    except PlanError as exc:
        return None, str(exc)


@bp.post("/broadcasts/new")
def broadcast_dry_run() -> Response:
    source = _source()
    if source is None:
        return _new_page("", 413, error=words()["errors"]["http_413"])
    draft = _draft(source)
    if isinstance(draft, Response):
        return draft
    found, refused = _dry_run(draft)
    audit_detail(dry_run=draft.name, audience=found.audience if found else None)
    if found is None:
        return _new_page(source, 422, error=refused)
    return _new_page(source, dry=found, rendered=_service().render(draft.spec))


@bp.post("/broadcasts/create")
def broadcast_create() -> Response:
    source = request.form.get("yaml", "")
    draft = _draft(source)
    if isinstance(draft, Response):
        return draft
    try:
        plan = _service().create(draft, me().actor)
    except PlanError as exc:
        return _new_page(source, 422, error=str(exc))
    audit_detail(broadcast=plan.broadcast_id, audience=plan.audience)
    return back("console.broadcast", broadcast_id=plan.broadcast_id, done="created")


@bp.post("/broadcasts/preview")
def broadcast_preview() -> Response:
    """Send the pasted file to the staff member's own openid through WeChat's preview API."""
    t = words()["broadcasts"]
    source = request.form.get("yaml", "")
    openid = request.form.get("openid", "").strip()
    draft = _draft(source)
    if isinstance(draft, Response):
        return draft
    if not OPENID.fullmatch(openid):
        return _new_page(source, 400, error=t["bad_openid"])
    remember(openid=openid)
    found, refused = _dry_run(draft)
    try:
        rejected = _service().preview(draft.spec, [openid])
    except MessageError as exc:
        audit_detail(preview=draft.name, error=str(exc)[:200])
        return _new_page(source, 502, error=str(exc), dry=found)
    audit_detail(preview=draft.name, to=1, refused=len(rejected))
    note = t["preview_refused"] if rejected else t["preview_sent"]
    return _new_page(source, dry=found, rendered=_service().render(draft.spec), notice=note,
                     error=refused or "")


# --- sending: two deliberate steps ----------------------------------------------------------------
def _confirm_page(broadcast_id: int, status: int = 200, error: str = "") -> Response:
    t = words()["broadcasts"]
    try:
        found = _service().status(broadcast_id)
    except LookupError:
        return refuse(404, t["not_found"].format(id=broadcast_id))
    item = found.broadcast
    if item.status not in SENDABLE:
        return refuse(409, t["not_sendable"].format(status=words()["status"].get(item.status, item.status)),
                      link=("console.broadcast", {"broadcast_id": broadcast_id}))
    pending = sum(1 for b in found.batches if b.status == "pending")
    failed = sum(1 for b in found.batches if b.status == "failed")
    return render("broadcast_send", status, item=item, pending=pending, failed=failed, error=error,
                  rendered=_service().render(found.spec) if found.spec else [],
                  scheduler=not ext().config.embedded_redis)


@bp.get("/broadcasts/<int:broadcast_id>/send")
def broadcast_confirm(broadcast_id: int) -> Response:
    return _confirm_page(broadcast_id)


@bp.post("/broadcasts/<int:broadcast_id>/send")
def broadcast_send(broadcast_id: int) -> Response:
    """Queue the send once the typed audience number (or the broadcast's name) matches."""
    t = words()["broadcasts"]
    service = _service()
    try:
        item = service.status(broadcast_id).broadcast
    except LookupError:
        return refuse(404, t["not_found"].format(id=broadcast_id))
    typed = request.form.get("confirm", "").strip().replace(",", "")
    if typed not in (str(item.audience), item.name):
        audit_detail(broadcast=broadcast_id, refused="confirmation")
        return _confirm_page(broadcast_id, 422, t["confirm_wrong"].format(audience=item.audience))
    when = None
    at = request.form.get("at", "").strip()
    try:
        if at:
            when = service.parse_time(at)
        service.check_sendable(broadcast_id)  # nothing given up on a broadcast that cannot be sent
        skipped = service.skip_failed(broadcast_id) if request.form.get("skip_failed") == "1" else None
        when = service.queue_send(broadcast_id, when)
    except NoScheduler:
        return _confirm_page(broadcast_id, 422, t["no_scheduler"])
    except LookupError:
        return refuse(404, t["not_found"].format(id=broadcast_id))
    except ValueError as exc:  # a time that cannot be used (400), or sent / cancelled meanwhile (409)
        if at and when is None:
            return _confirm_page(broadcast_id, 400, str(exc))
        return refuse(409, str(exc), link=("console.broadcast", {"broadcast_id": broadcast_id}))
    audit_detail(broadcast=broadcast_id, audience=item.audience, **({"at": when.isoformat()} if when else {}),
                 **({"skipped": {"batches": skipped[0], "followers": skipped[1]}} if skipped else {}))
    return back("console.broadcast", broadcast_id=broadcast_id, done="scheduled" if when else "queued")


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
def broadcast_cancel(broadcast_id: int) -> Response:
    t = words()["broadcasts"]
    try:
        _service().cancel(broadcast_id)
    except LookupError:
        return refuse(404, t["not_found"].format(id=broadcast_id))
    except ValueError as exc:
        return refuse(409, str(exc), link=("console.broadcast", {"broadcast_id": broadcast_id}))
    audit_detail(broadcast=broadcast_id)
    return back("console.broadcast", broadcast_id=broadcast_id, done="cancelled")
