"""Development secrets for the embedded runner: generated once, kept in `var/`, never committed."""
from __future__ import annotations

import json
import secrets
import string
from pathlib import Path
from typing import Any

WECHAT_KEYS = ("token", "encoding_aes_key", "appsecret")


def generate() -> dict[str, str]:
    """A WeChat token, EncodingAESKey and appsecret of the shapes WeChat uses, and a staff token for the console."""
    alphabet = string.ascii_letters + string.digits
    return {
        "token": "".join(secrets.choice(alphabet) for _ in range(32)),
        # letters and digits only, like the keys the MP admin generates (its form takes no + or /)
        "encoding_aes_key": "".join(secrets.choice(alphabet) for _ in range(43)),
        "appsecret": secrets.token_hex(16),
        "admin_token": secrets.token_urlsafe(24),
    }


def fill_dev_secrets(data: dict[str, Any], store: Path) -> None:
    """Fill empty `wechat.*` secrets in `data` from `store`, creating it on first use, and with no `admin.tokens`
    one staff token named "dev" (the console's login, printed by the dev runner)."""
    try:
        saved = json.loads(store.read_text())
    except (OSError, ValueError):
        saved = {}
    if not all(saved.get(key) for key in (*WECHAT_KEYS, "admin_token")):  # new, or from before the console
        saved = {**generate(), **{k: v for k, v in saved.items() if v}}
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(saved))
        store.chmod(0o600)
    wechat = data.setdefault("wechat", {})
    for key in WECHAT_KEYS:
        if not wechat.get(key):
            wechat[key] = saved[key]
    admin = data.get("admin")
    if admin is None:
        admin = data["admin"] = {}
    if isinstance(admin, dict) and not admin.get("tokens"):  # another shape: the config's check names it
        admin["tokens"] = [f"dev:{saved['admin_token']}"]
