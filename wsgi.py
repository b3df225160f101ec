"""WSGI entry point of the checkout: `gunicorn wsgi:app`, `flask --app wsgi ...` (the same app as `bot.wsgi`)."""
from bot.wsgi import app  # noqa: F401
