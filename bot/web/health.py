"""Probes for the load balancer and the orchestrator."""
from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process is up and serving."""
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> tuple[Response, int]:
    """Redis and the database answer; 503 names what does not."""
    ext = current_app.extensions["yjy"]
    checks = {"redis": ext.store.ping(), "database": ext.db.ping()}
    ready = all(checks.values())
    return jsonify(status="ready" if ready else "not ready", checks=checks), 200 if ready else 503
