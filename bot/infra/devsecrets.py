"""Development secrets for the embedded runner: generated once, kept in `var/`, never committed."""
from __future__ import annotations

import json
import secrets
import string
from pathlib import Path
from typing import Any


def generate() -> dict[str, str]:
    """A WeChat token, EncodingAESKey and appsecret of the shapes WeChat uses."""
    alphabet = string.ascii_letters + string.digits
    return {
        "token": "".join(secrets.choice(alphabet) for _ in range(32)),
        # letters and digits only, like the keys the MP admin generates (its form takes no + or /)
        "encoding_aes_key": "".join(secrets.choice(alphabet) for _ in range(43)),
        "appsecret": secrets.token_hex(16),
    }


def fill_dev_secrets(data: dict[str, Any], store: Path) -> None:
    """Fill empty `wechat.*` secrets in `data` from `store`, creating it on first use."""
    try:
        saved = json.loads(store.read_text())
    except (OSError, ValueError):
        saved = generate()
        store.parent.mkdir(parents=True, exist_ok=True)
        store.write_text(json.dumps(saved))
        store.chmod(0o600)
    wechat = data.setdefault("wechat", {})
    for key, value in saved.items():
        if not wechat.get(key):
            wechat[key] = value
