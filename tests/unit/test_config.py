"""Configuration loading and validation: errors name the key and where it was set, never a secret."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.infra.config import ConfigError, load_config
from bot.infra.logs import RedactSecrets
from tests.builders import CONFIG_YAML as BASE
from tests.builders import GOOD_KEY


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bot.yaml"
    path.write_text(text)
    return path


def test_repository_defaults_load_for_the_dev_runner():
    config = load_config(environ={}, dev=True)
    assert config.embedded_redis and config.database_url.startswith("sqlite")
    assert len(config.wechat.encoding_aes_key) == 43 and config.wechat.token


def test_bot_config_selects_the_file_and_env_overrides_secrets(tmp_path):
    path = write(tmp_path, BASE)
    config = load_config(environ={"BOT_CONFIG": str(path), "WECHAT_TOKEN": "fromEnv42",
                                  "REDIS_URL": "redis://cache:6380/2", "ADMIN_TOKENS": "a" * 20 + ", " + "b" * 20,
                                  "WECHAT_API_BASE_URL": "http://127.0.0.1:9999"})
    assert config.source == str(path)
    assert config.wechat.token == "fromEnv42" and config.wechat.appid == "wxabc"
    assert config.redis_url == "redis://cache:6380/2"
    assert config.admin_tokens == ("a" * 20, "b" * 20)
    assert config.wechat.api_base_url == "http://127.0.0.1:9999"


@pytest.mark.parametrize("old,new,key,line", [
    (f"encoding_aes_key: {GOOD_KEY}", "encoding_aes_key: tooShort", "wechat.encoding_aes_key", 6),
    (f"encoding_aes_key: {GOOD_KEY}", f"encoding_aes_key: {GOOD_KEY[:-2]}-_", "wechat.encoding_aes_key", 6),
    ("url: redis://127.0.0.1:6379/0", "url: http://127.0.0.1", "redis.url", 20),
    ("url: postgresql://u@db/x", "url: mysql://u@db/x", "database.url", 23),
    ("  token: tok123456\n", "", "wechat.token", 2),
    ("reply_deadline_seconds: 4.0", "reply_deadline_seconds: 9", "webhook.reply_deadline_seconds", 12),
    ("max_body_bytes: 65536", "max_body_bytes: lots", "webhook.max_body_bytes", 11),
    ("mode: safe", "mode: paranoid", "wechat.mode", 8),
    ("api_base_url: https://api.weixin.qq.com", "api_base_url: https://", "wechat.api_base_url", 7),
])
def test_errors_name_key_file_and_line(tmp_path, old, new, key, line):
    path = write(tmp_path, BASE.replace(old, new))
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    message = str(info.value)
    assert key in message and str(path) in message and f"line {line}" in message
    assert "s3cr3t-value-xyz" not in message


def test_errors_from_the_environment_name_the_variable_not_the_value(tmp_path):
    path = write(tmp_path, BASE)
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={"WECHAT_ENCODING_AES_KEY": "SECRET-BUT-WRONG-LENGTH"})
    message = str(info.value)
    assert "WECHAT_ENCODING_AES_KEY" in message and "must be 43 letters" in message
    assert "SECRET-BUT-WRONG-LENGTH" not in message


def test_invalid_yaml_names_the_line(tmp_path):
    path = write(tmp_path, BASE + "oops: [unclosed\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert "invalid YAML" in str(info.value) and "line 2" in str(info.value)


def test_missing_file_and_non_mapping(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_config(tmp_path / "nope.yaml", environ={})
    with pytest.raises(ConfigError, match="mapping"):
        load_config(write(tmp_path, "- a\n- b\n"), environ={})


def test_memory_redis_is_refused_outside_the_dev_runner(tmp_path):
    path = write(tmp_path, BASE.replace("redis://127.0.0.1:6379/0", "memory://"))
    with pytest.raises(ConfigError, match="REDIS_URL"):
        load_config(path, environ={})


def test_secrets_are_masked_in_log_records(caplog):
    logger = logging.getLogger("test.secrets")
    handler = logging.StreamHandler()
    handler.addFilter(RedactSecrets(["tok123456", GOOD_KEY]))
    record = logger.makeRecord("t", logging.INFO, __file__, 1, "token=%s key=%s", ("tok123456", GOOD_KEY), None)
    handler.filter(record)
    assert record.getMessage() == "token=*** key=***"


def test_generated_dev_secrets_have_the_shapes_wechat_uses():
    import re

    from bot.infra.devsecrets import generate
    from bot.wechat.protocol import AESEnvelope, parse_xml

    for _ in range(20):
        made = generate()
        assert re.fullmatch(r"[A-Za-z0-9]{43}", made["encoding_aes_key"])  # the MP admin's form takes no + or /
        assert re.fullmatch(r"[A-Za-z0-9]{32}", made["token"])
        envelope = AESEnvelope(made["token"], made["encoding_aes_key"], "wx0123456789abcdef")
        sealed = parse_xml(envelope.encrypt("<xml><Content>你好</Content></xml>", "nonce1", "1700000000").encode())
        assert envelope.decrypt(sealed["Encrypt"], sealed["MsgSignature"], "1700000000", "nonce1") \
            == "<xml><Content>你好</Content></xml>"


def test_dev_secrets_give_the_dev_runner_a_console_login_and_keep_older_ones(tmp_path):
    import json

    from bot.infra.devsecrets import fill_dev_secrets

    store = tmp_path / "var" / "dev-secrets.json"
    store.parent.mkdir()
    store.write_text(json.dumps({"token": "t" * 32, "encoding_aes_key": "k" * 43, "appsecret": "s" * 32}))  # older
    data: dict = {"wechat": {"appid": "wxdev"}, "admin": None}
    fill_dev_secrets(data, store)
    saved = json.loads(store.read_text())
    assert data["wechat"]["token"] == "t" * 32 and len(saved["admin_token"]) >= 24  # kept, and one more secret
    assert data["admin"]["tokens"] == [f"dev:{saved['admin_token']}"]
    assert oct(store.stat().st_mode & 0o777) == "0o600"
    configured: dict = {"admin": {"tokens": ["mei:" + "m" * 20]}}
    fill_dev_secrets(configured, store)
    assert configured["admin"]["tokens"] == ["mei:" + "m" * 20]  # ADMIN_TOKENS or the file win
