"""WSGI entry point of an installed service: `gunicorn bot.wsgi:app`, `flask --app bot.wsgi ...`.

The checkout's top-level `wsgi.py` is the same app under its short name (`gunicorn wsgi:app`).
"""
import os
import sys

from bot import create_app
from bot.infra.yamlfile import SourceError

try:
    # A web worker builds what answering needs before the first message; a `flask` command only what it uses.
    app = create_app(warm=os.environ.get("FLASK_RUN_FROM_CLI") != "true")
except SourceError as exc:  # config or content: the operator needs the file, line and key, not a traceback
    sys.exit(f"yijiyou: cannot start: {exc}")
