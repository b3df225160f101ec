"""How HTTP errors look to whoever made the request: JSON with a reason for API callers (admin API,
simulator API), the friendly page for phones, never a stack trace. The webhook has its own last
resort (`bot.webhook`): WeChat must always get "success"."""
from __future__ import annotations

import logging

import redis
from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)
API_PREFIXES = ("/admin/api/", "/simulator/api/")


def _json(status: int, message: str) -> Response:
    response = jsonify({"error": message})
    response.status_code = status
    return response


def register(app: Flask) -> None:
    from bot.web import pages

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response | HTTPException:
        if request.path.startswith(API_PREFIXES):
            return _json(exc.code or 500, exc.description or exc.name)
        if exc.code == 404:
            return pages.not_found()
        return exc

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response | HTTPException:
        log.exception("%s %s failed", request.method, request.path)
        if not request.path.startswith(API_PREFIXES):
            return InternalServerError()
        if isinstance(exc, (redis.RedisError, SQLAlchemyError)):
            return _json(503, "the database or the job queue did not answer; check the state before trying again")
        return _json(500, "internal error; it was logged")
