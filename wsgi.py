"""WSGI entry point: `gunicorn wsgi:app` (production) or `flask --app wsgi ...` (CLI)."""
import sys

from bot import create_app
from bot.infra.yamlfile import SourceError

try:
    app = create_app()
except SourceError as exc:  # config or content: the operator needs the file, line and key, not a traceback
    sys.exit(f"yijiyou: cannot start: {exc}")
