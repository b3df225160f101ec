"""WSGI entry point: `gunicorn wsgi:app` (production) or `flask --app wsgi ...` (CLI)."""
from bot import create_app

app = create_app()
