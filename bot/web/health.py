"""Probes for the load balancer and the orchestrator."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():  # type: ignore[no-untyped-def]
    """The process is up and serving."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz():  # type: ignore[no-untyped-def]
    """Redis and the database answer; 503 names what does not."""
    ext = current_app.extensions["yjy"]
    checks = {"redis": ext.store.ping(), "database": ext.db.ping()}
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503
