"""Configuration: `config.yaml` (or `BOT_CONFIG`), then environment overrides, validated at start-up.

Errors name the key and where it came from (file and line, or the environment variable) and never
print a secret's value.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import importlib.util
import ipaddress
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

from bot.infra import yamlfile
from bot.infra.yamlfile import SourceError

CHECKOUT = Path(__file__).resolve().parents[2]
PACKAGED = Path(__file__).resolve().parents[1] / "_data"  # what the wheel carries: config.yaml, content/


def _root() -> Path:
    """The folder of the default `config.yaml`, against which relative paths in any config resolve.

    In a checkout (and its editable install) that is the checkout itself, so the dev runner, the
    tests and `var/` use its files; an installed wheel has no checkout around it and uses the copies
    it carries in `bot/_data/`.
    """
    if (CHECKOUT / "config.yaml").is_file() and (CHECKOUT / "content").is_dir():
        return CHECKOUT
    return PACKAGED


ROOT = _root()
DEFAULT_FILE = ROOT / "config.yaml"


def work_dir() -> Path:
    """Where the bot writes its own files (`var/`: the dev runner's SQLite file and secrets): the checkout,
    or, for an installed wheel, the folder it is started from (never inside site-packages)."""
    return ROOT if ROOT == CHECKOUT else Path.cwd()

# Environment variable -> dotted config key. Secrets and endpoints only: behaviour lives in the file.
ENV_OVERRIDES: dict[str, str] = {
    "WECHAT_TOKEN": "wechat.token",
    "WECHAT_APPID": "wechat.appid",
    "WECHAT_APPSECRET": "wechat.appsecret",
    "WECHAT_ENCODING_AES_KEY": "wechat.encoding_aes_key",
    "WECHAT_API_BASE_URL": "wechat.api_base_url",
    "REDIS_URL": "redis.url",
    "DATABASE_URL": "database.url",
    "ADMIN_TOKENS": "admin.tokens",
    "METRICS_TOKEN": "metrics.token",
    "CONSOLE_SECRET": "admin.console_secret",
    "PUBLIC_BASE_URL": "public_base_url",
    "RATES_FILE": "rates.file",
    "RATES_URL": "rates.url",
    "BOOKING_TEMPLATE_ID": "bookings.template_id",
    "LINK_SECRET": "bookings.link_secret",
    "STAFF_TOKENS": "bookings.staff",
    "BOOKING_REMINDER_TEMPLATE_ID": "bookings.reminder_template_id",
    "BOOKING_REFUND_TEMPLATE_ID": "bookings.refund_template_id",
    "EXIM_API_KEY": "live.exim_key",
    "EXIM_API_URL": "live.exim_url",
    "DATA_GO_KR_KEY": "live.data_go_kr_key",
    "KMA_API_URL": "live.kma_url",
    "AIRKOREA_API_URL": "live.airkorea_url",
    "SEOUL_OPENAPI_KEY": "live.seoul_key",
    "SEOUL_CITYDATA_URL": "live.seoul_citydata_url",
    "WECHAT_PAY_API_BASE_URL": "pay.api_base_url",
    "WECHAT_PAY_MODE": "pay.mode",
    "WECHAT_PAY_MCHID": "pay.mchid",
    "WECHAT_PAY_SUB_MCHID": "pay.sub_mchid",
    "WECHAT_PAY_CERT_SERIAL": "pay.cert_serial",
    "WECHAT_PAY_PRIVATE_KEY_FILE": "pay.private_key_file",
    "WECHAT_PAY_APIV3_KEY": "pay.apiv3_key",
    "WECHAT_PAY_PLATFORM_PUBLIC_KEY_FILE": "pay.platform_public_key_file",
    "WECHAT_PAY_PLATFORM_KEY_ID": "pay.platform_key_id",
}


class ConfigError(SourceError):
    """Invalid configuration; the message says which key and where it was set."""


@dataclass(frozen=True)
class WeChatConfig:
    appid: str
    appsecret: str
    token: str
    encoding_aes_key: str
    api_base_url: str
    mode: str  # plain | compatible | safe: "safe" refuses unencrypted POSTs


@dataclass(frozen=True)
class WebhookConfig:
    timestamp_window_seconds: int
    max_body_bytes: int
    reply_deadline_seconds: float
    dedup_ttl_seconds: int
    handler_threads: int


@dataclass(frozen=True)
class RatesConfig:
    provider: str  # file | http | exim (decided at start: see rates.provider in config.yaml)
    file: Path
    url: str
    ttl_seconds: int
    timeout_seconds: float


@dataclass(frozen=True)
class StaffLogin:
    """A partner's or our staff member's login for redeeming bookings at the venue."""

    name: str
    token: str = field(repr=False)
    products: frozenset[str] = frozenset()  # the products they may redeem; empty: all


@dataclass(frozen=True)
class AdminLogin:
    """One entry of `admin.tokens`: `name:token` (actions are attributed to `staff:<name>`) or a bare token
    (attributed to `token:<sha256 prefix>`, as before names existed)."""

    name: str  # "" for a bare token
    token: str = field(repr=False)

    @property
    def actor(self) -> str:
        """Who the audit log says did it: never the token itself."""
        if self.name:
            return f"staff:{self.name}"
        return "token:" + hashlib.sha256(self.token.encode()).hexdigest()[:8]


ADMIN_NAME = re.compile(r"[A-Za-z0-9_.-]{1,40}")


def find_admin(logins: tuple[AdminLogin, ...], token: str) -> AdminLogin | None:
    """The login `token` belongs to, compared with every configured token in constant time (no early stop)."""
    found = None
    for login in logins:
        if hmac.compare_digest(token.encode(), login.token.encode()):
            found = login
    return found if token else None


@dataclass(frozen=True)
class BookingsConfig:
    group_min_party: int  # parties this large (or above a product's max_party) go to staff
    template_id: str  # WeChat template message for confirmations; "" sends none
    link_secret: str = field(repr=False)  # signs links to booking pages
    staff: tuple[StaffLogin, ...] = ()
    reminder_template_id: str = ""  # the day before the tour; "" sends none
    refund_template_id: str = ""  # when a refund is paid out; "" sends none


@dataclass(frozen=True)
class PayConfig:
    """WeChat Pay APIv3. `mode` "" means no merchant account: bookings that need payment are refused
    (the dev runner points this at its embedded fake instead and sets `simulated`)."""

    mode: str = ""  # global (WeChat Pay Global, the Korean merchant's case) | domestic | "" (none)
    api_base_url: str = "https://apihk.mch.weixin.qq.com"
    mchid: str = ""  # global institutional mode: the acquirer's sp_mchid, which signs every request
    sub_mchid: str = ""  # global institutional mode: our merchant id under the acquirer
    sp_appid: str = ""  # the acquirer's appid (global institutional); "" = our own appid
    cert_serial: str = ""  # the merchant API certificate's serial (Authorization serial_no)
    private_key_file: str = ""  # merchant API private key, PEM (apiclient_key.pem)
    apiv3_key: str = field(default="", repr=False)  # 32 bytes: decrypts notifications
    platform_public_key_file: str = ""  # WeChat Pay public key (or platform certificate), PEM
    platform_key_id: str = ""  # PUB_KEY_ID_... or the certificate serial: Wechatpay-Serial names it
    timeout_seconds: float = 3.0
    hold_minutes: int = 15  # seats are held this long for an unpaid order
    simulated: bool = False  # the embedded fake: pages say that no money moves

    @property
    def enabled(self) -> bool:
        return bool(self.mode)

    @property
    def institutional(self) -> bool:
        return self.mode == "global" and bool(self.sub_mchid)


@dataclass(frozen=True)
class LiveConfig:
    """Live data sources (official, free with a key). A source without its key uses the recorded fixtures in
    content/live/ and says so; each URL defaults to the real service."""

    exim_key: str = field(default="", repr=False)
    exim_url: str = "https://oapi.koreaexim.go.kr/site/program/financial/exchangeJSON"
    data_go_kr_key: str = field(default="", repr=False)  # KMA short-term forecast and AirKorea
    kma_url: str = "https://apis.data.go.kr/1360000/VilageFcstInfoService_2.0"
    airkorea_url: str = "https://apis.data.go.kr/B552584/ArpltnInforInqireSvc"
    seoul_key: str = field(default="", repr=False)
    seoul_citydata_url: str = "http://openapi.seoul.go.kr:8088"
    timeout_seconds: float = 3.0  # a refresh job's call; a traveler's request never waits on a source this long
    quotas: dict[str, int] = field(default_factory=lambda: {"exim": 1000, "kma": 10000, "airkorea": 500,
                                                            "seoul": 1000})


def _live(r: _Reader) -> LiveConfig:
    base = LiveConfig()
    values: dict[str, Any] = {}
    for key in ("exim_key", "data_go_kr_key", "seoul_key"):
        values[key] = r.text(f"live.{key}", required=False)
    for key in ("exim_url", "kma_url", "airkorea_url", "seoul_citydata_url"):
        values[key] = (r.url(f"live.{key}", ("http", "https")).rstrip("/") if r.raw(f"live.{key}")
                       else getattr(base, key))
    quotas = dict(base.quotas)
    raw = r.raw("live.quotas") or {}
    if not isinstance(raw, dict):
        raise r.error("live.quotas", "must map a source (exim, kma, airkorea, seoul) to calls per day")
    for source in raw:
        quotas[str(source)] = r.number(f"live.quotas.{source}", int, 1, 10_000_000)
    return LiveConfig(timeout_seconds=_optional(r, "live.timeout_seconds", 0.2, 30, 3.0), quotas=quotas, **values)


_PAY_REQUIRED = ("mchid", "cert_serial", "private_key_file", "apiv3_key", "platform_public_key_file",
                 "platform_key_id")


def _pay(r: _Reader) -> PayConfig:
    mode = r.text("pay.mode", required=False)
    hold = r.number("pay.hold_minutes", int, 1, 24 * 60) if r.raw("pay.hold_minutes") is not None else 15
    if mode == "":
        return PayConfig(hold_minutes=hold)
    if mode not in ("global", "domestic"):
        raise r.error("pay.mode", "must be global (WeChat Pay Global, overseas merchants), domestic, or empty")
    values = {key: r.text(f"pay.{key}") for key in _PAY_REQUIRED}
    for key in ("private_key_file", "platform_public_key_file"):
        path = Path(values[key])
        if not path.is_absolute():
            path = work_dir() / path
        if not path.is_file():
            raise r.error(f"pay.{key}", f"{path} does not exist")
        values[key] = str(path)
    if len(values["apiv3_key"].encode()) != 32:
        raise r.error("pay.apiv3_key", "must be the 32-character APIv3 key set in the merchant platform")
    return PayConfig(mode=mode, api_base_url=r.url("pay.api_base_url", ("http", "https")).rstrip("/"),
                     sub_mchid=r.text("pay.sub_mchid", required=False),
                     sp_appid=r.text("pay.sp_appid", required=False),
                     timeout_seconds=_optional(r, "pay.timeout_seconds", 0.2, 10, 3.0), hold_minutes=hold,
                     simulated=r.flag("pay.simulated"), **values)


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


@dataclass(frozen=True)
class HandoffConfig:
    """Talking to a person: WeChat's kf (多客服) transfer, and when staff answer (Asia/Seoul)."""

    kf_enabled: bool = False  # transfer to an online kf agent (needs the kf feature and bound accounts)
    hours: str = "09:00-21:00"  # as written in the config, for people reading replies and logs
    opens: int = 9 * 60  # minutes after midnight
    closes: int = 21 * 60  # minutes after midnight of the opening day; past 1440 for a shift over midnight
    days: tuple[int, ...] = tuple(range(7))  # weekdays a shift starts on (0 = Monday)


_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*[-–~]\s*(\d{1,2}):(\d{2})\s*$")


def _handoff(r: _Reader) -> HandoffConfig:
    hours = r.text("handoff.hours", required=False, default="09:00-21:00")
    m = _HOURS.match(hours)
    if not m:
        raise r.error("handoff.hours", f"must be staff hours like 09:00-21:00 (Asia/Seoul), got {hours!r}")
    oh, om, ch, cm = (int(g) for g in m.groups())
    if oh > 23 or om > 59 or ch > 24 or cm > 59 or (ch == 24 and cm):
        raise r.error("handoff.hours", f"{hours!r} is not a time of day (00:00 to 24:00)")
    opens, closes = oh * 60 + om, ch * 60 + cm
    if closes == opens:
        raise r.error("handoff.hours", "opening and closing times are the same; write 00:00-24:00 for all day")
    if closes < opens:  # "22:00-06:00": the shift ends the next morning
        closes += 24 * 60
    raw_days = r.raw("handoff.days")
    if raw_days is None or raw_days == "daily":
        days = tuple(range(7))
    else:
        if not isinstance(raw_days, list) or not raw_days:
            raise r.error("handoff.days", f"must be a list of weekdays ({', '.join(WEEKDAYS)}) or daily")
        picked = set()
        for day in raw_days:
            name = str(day).strip().lower()[:3]
            if name not in WEEKDAYS:
                raise r.error("handoff.days", f"{day!r} is not a weekday ({', '.join(WEEKDAYS)})")
            picked.add(WEEKDAYS.index(name))
        days = tuple(sorted(picked))
    return HandoffConfig(kf_enabled=r.flag("handoff.kf_enabled"), hours=hours.strip(), opens=opens, closes=closes,
                         days=days)


@dataclass(frozen=True)
class InsightsConfig:
    """What travelers asked and what the bot missed (bot/insights/)."""

    keep_raw_days: int = 30  # raw texts of unanswered messages (and closed hand-offs) are deleted after this


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class MetricsConfig:
    """Who may read `GET /metrics`: a bearer token, or a client (the TCP peer) inside one of `allow`."""

    token: str = field(default="", repr=False)
    allow: tuple[Network, ...] = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("::1/128"))


@dataclass(frozen=True)
class Config:
    source: str
    dev: bool
    public_base_url: str
    wechat: WeChatConfig
    webhook: WebhookConfig
    state_ttl_seconds: int
    follower_touch_seconds: int
    redis_url: str
    redis_timeout_seconds: float
    database_url: str
    admin_tokens: tuple[str, ...]
    content_dir: Path
    routers: str
    queue_name: str
    queue_maintenance_seconds: int  # how soon a worker revives RQ's scheduler (killed by a Redis restart)
    rates: RatesConfig
    bookings: BookingsConfig
    handoff: HandoffConfig = field(default_factory=HandoffConfig)
    pay: PayConfig = field(default_factory=PayConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    insights: InsightsConfig = field(default_factory=InsightsConfig)
    database_statement_timeout_seconds: float = 10.0  # PostgreSQL: a statement (or a lock wait) past this fails
    database_pool_timeout_seconds: float = 2.0  # waiting for a free pooled connection
    simulator: bool = False  # /simulator: a chat page for testers; never on in production
    admin_logins: tuple[AdminLogin, ...] = field(default=(), repr=False)  # admin_tokens with their names
    console_secret: str = field(default="", repr=False)  # signs the /admin/ console's session cookie
    secrets: tuple[str, ...] = field(default=(), repr=False)

    @property
    def embedded_redis(self) -> bool:
        return self.redis_url.startswith("memory://")


class _Reader:
    """Typed access to the merged config that reports errors against the right source."""

    def __init__(self, located: yamlfile.Located, env_sources: dict[str, str]) -> None:
        self.located = located
        self.env_sources = env_sources  # dotted key -> environment variable that set it

    def error(self, key: str, message: str) -> ConfigError:
        if key in self.env_sources:
            return ConfigError(f"environment variable {self.env_sources[key]}", None,
                               f"{key}: {message}")
        return ConfigError(self.located.file, self.located.line(key), f"{key}: {message}")

    def raw(self, key: str) -> Any:
        node: Any = self.located.data
        for part in key.split("."):
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def text(self, key: str, *, required: bool = True, default: str = "") -> str:
        value = self.raw(key)
        if value is None or value == "":
            if required:
                raise self.error(key, "is required")
            return default
        if not isinstance(value, (str, int)) or isinstance(value, bool):
            raise self.error(key, f"must be a string, not {type(value).__name__}")
        return str(value)

    def number(self, key: str, kind: type, low: float, high: float) -> Any:
        value = self.raw(key)
        if value is None:
            raise self.error(key, "is required")
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise self.error(key, f"must be a number, not {value!r}")
        if not low <= value <= high:
            raise self.error(key, f"must be between {low} and {high}, got {value}")
        return kind(value)

    def flag(self, key: str) -> bool:
        value = self.raw(key)
        if value is None:
            return False
        if not isinstance(value, bool):
            raise self.error(key, "must be true or false")
        return value

    def url(self, key: str, schemes: tuple[str, ...]) -> str:
        value = self.text(key)
        parts = urlsplit(value)
        scheme = parts.scheme.split("+")[0]
        if scheme not in schemes:
            raise self.error(key, f"must be a URL starting with one of {', '.join(s + '://' for s in schemes)}")
        if scheme in ("http", "https", "redis", "rediss", "postgresql") and not parts.hostname:
            raise self.error(key, "must name a host")
        try:
            parts.port  # noqa: B018 - raises on a malformed port
        except ValueError:
            raise self.error(key, "has an invalid port") from None
        return value


def _staff(r: _Reader) -> tuple[StaffLogin, ...]:
    """`name:token[:product|product]` entries (STAFF_TOKENS=a,b or a YAML list): who may redeem what."""
    raw = r.raw("bookings.staff") or []
    entries = [e.strip() for e in raw.split(",") if e.strip()] if isinstance(raw, str) else raw
    if not isinstance(entries, list):
        raise r.error("bookings.staff", "must be a list of name:token[:product|product] entries")
    logins, names = [], set()
    for entry in entries:
        parts = str(entry).split(":")
        if len(parts) not in (2, 3) or not parts[0].strip() or len(parts[1]) < 16:
            raise r.error("bookings.staff", "each entry is name:token[:product|product], the token 16+ characters")
        name = parts[0].strip()
        if name in names:
            raise r.error("bookings.staff", f"{name!r} is listed twice")
        names.add(name)
        products = frozenset(p.strip() for p in parts[2].split("|") if p.strip()) if len(parts) == 3 else frozenset()
        logins.append(StaffLogin(name[:40], parts[1], products))
    return tuple(logins)


def _admin_logins(r: _Reader) -> tuple[AdminLogin, ...]:
    """`admin.tokens` (ADMIN_TOKENS=a,b): entries `name:token` or a bare token, each token 16+ characters."""
    raw = r.raw("admin.tokens") or []
    shape = "must be a list of tokens of at least 16 characters, each name:token (name: 1-40 letters, digits, _ . -) " \
            "or a bare token"
    if not isinstance(raw, list) or not all(isinstance(t, str) for t in raw):
        raise r.error("admin.tokens", shape)
    logins, names = [], set()
    for entry in raw:
        name, sep, token = entry.partition(":")
        if not (sep and ADMIN_NAME.fullmatch(name) and len(token) >= 16):  # a bare token (it may hold a ':')
            name, token = "", entry
        if len(token) < 16:
            raise r.error("admin.tokens", shape)
        if name and name in names:
            raise r.error("admin.tokens", f"{name!r} is listed twice")
        names.add(name)
        logins.append(AdminLogin(name, token))
    return tuple(logins)


def _metrics(r: _Reader) -> MetricsConfig:
    """`metrics.token` (METRICS_TOKEN) and `metrics.allow` (networks, default this host only)."""
    token = r.text("metrics.token", required=False)
    if token and len(token) < 16:
        raise r.error("metrics.token", "must be at least 16 characters (or empty: the allowed networks only)")
    raw = r.raw("metrics.allow")
    if raw is None:
        return MetricsConfig(token=token)
    if not isinstance(raw, list):
        raise r.error("metrics.allow", "must be a list of networks in CIDR form, e.g. [127.0.0.1/32, 10.0.0.0/8]")
    allow = []
    for entry in raw:
        try:
            allow.append(ipaddress.ip_network(str(entry).strip()))
        except ValueError as exc:
            raise r.error("metrics.allow", f"{entry!r} is not a network in CIDR form ({exc})") from None
    return MetricsConfig(token=token, allow=tuple(allow))


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    sources: dict[str, str] = {}
    for var, key in ENV_OVERRIDES.items():
        if var not in environ:
            continue
        value: Any = environ[var]
        if key == "admin.tokens":
            value = [t.strip() for t in value.split(",") if t.strip()]
        node = data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"environment variable {var}", None, f"{part} is not a mapping in the file")
        node[leaf] = value
        sources[key] = var
    return sources


def _is_base64(value: str) -> bool:
    try:
        return len(base64.b64decode(value, validate=True)) == 32
    except ValueError:
        return False


def _optional(r: Any, key: str, low: float, high: float, default: float) -> float:
    """A number setting the file may leave out (older config files still load)."""
    return default if r.raw(key) is None else float(r.number(key, float, low, high))


def load_config(path: str | Path | None = None, *, environ: Mapping[str, str] | None = None,
                overrides: Mapping[str, Any] | None = None, dev: bool | None = None) -> Config:
    """Load and validate the configuration.

    `path` defaults to `BOT_CONFIG` or `config.yaml`; `overrides` (dotted keys) are for tests and the
    dev runner; `dev` (default: `BOT_DEV=1`) fills missing secrets with generated development ones.
    """
    environ = os.environ if environ is None else environ
    path = Path(path or environ.get("BOT_CONFIG") or DEFAULT_FILE)
    try:
        located = yamlfile.load(path)
    except SourceError as exc:
        raise ConfigError(exc.file, exc.line, exc.message) from None
    if located.data is None:
        located.data = {}
    if not isinstance(located.data, dict):
        raise ConfigError(located.file, 1, "the file must hold a mapping of settings")
    env_sources = _apply_env(located.data, environ)
    for key, value in (overrides or {}).items():
        node = located.data
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
        env_sources.pop(key, None)
    r = _Reader(located, env_sources)
    if dev is None:
        dev = environ.get("BOT_DEV") == "1"
    if dev:
        from bot.infra.devsecrets import fill_dev_secrets

        fill_dev_secrets(located.data, work_dir() / "var" / "dev-secrets.json")

    mode = r.text("wechat.mode", required=False, default="compatible")
    if mode not in ("plain", "compatible", "safe"):
        raise r.error("wechat.mode", "must be plain, compatible or safe")
    aes_key = r.text("wechat.encoding_aes_key", required=mode == "safe")
    if aes_key and (len(aes_key) != 43 or not _is_base64(aes_key + "=")):
        raise r.error("wechat.encoding_aes_key", f"must be 43 letters, digits, + or / as the MP admin shows it "
                                                 f"(got {len(aes_key)} characters)")
    token = r.text("wechat.token")
    if not token.isalnum() or not 3 <= len(token) <= 32:
        raise r.error("wechat.token", "must be 3 to 32 letters or digits (as WeChat requires)")
    wechat = WeChatConfig(
        appid=r.text("wechat.appid"),
        appsecret=r.text("wechat.appsecret", required=False),
        token=token,
        encoding_aes_key=aes_key,
        api_base_url=r.url("wechat.api_base_url", ("http", "https")).rstrip("/"),
        mode=mode,
    )
    webhook = WebhookConfig(
        timestamp_window_seconds=r.number("webhook.timestamp_window_seconds", int, 1, 86400),
        max_body_bytes=r.number("webhook.max_body_bytes", int, 1024, 10 * 1024 * 1024),
        reply_deadline_seconds=r.number("webhook.reply_deadline_seconds", float, 0.05, 4.8),
        dedup_ttl_seconds=r.number("webhook.dedup_ttl_seconds", int, 30, 86400),
        handler_threads=r.number("webhook.handler_threads", int, 1, 256),
    )
    redis_url = r.url("redis.url", ("redis", "rediss", "unix", "memory"))
    if redis_url.startswith("memory://") and importlib.util.find_spec("fakeredis") is None:
        raise r.error("redis.url", "memory:// (the in-process stand-in) needs fakeredis: install "
                                   "yijiyou-seoul[embedded] (the dev runner does), or set REDIS_URL to a real Redis")
    database_url = r.url("database.url", ("sqlite", "postgresql"))
    if not dev and redis_url.startswith("memory://") and environ.get("BOT_ALLOW_MEMORY_REDIS") != "1":
        # An in-process stand-in is per worker: dedup and state would silently split across workers.
        raise r.error("redis.url", "memory:// is only for the development runner; set REDIS_URL")
    admin_logins = _admin_logins(r)
    tokens = [login.token for login in admin_logins]
    content_dir = Path(r.text("content_dir", required=False, default="content"))
    if not content_dir.is_absolute():
        content_dir = ROOT / content_dir
    if not content_dir.is_dir():
        raise r.error("content_dir", f"{content_dir} is not a folder")
    rates_url = r.text("rates.url", required=False)
    rates_provider = r.text("rates.provider", required=False, default="auto")
    if rates_provider not in ("auto", "file", "http", "exim"):
        raise r.error("rates.provider", "must be auto, file, http or exim")
    if rates_provider == "auto":  # RATES_FILE wins when set, then the Eximbank with a key, then RATES_URL
        rates_provider = ("file" if "rates.file" in r.env_sources else "exim" if r.raw("live.exim_key")
                          else "http" if rates_url else "file")
    if rates_provider == "exim" and not r.raw("live.exim_key"):
        raise r.error("rates.provider", "exim needs the Eximbank key: set EXIM_API_KEY")
    if rates_provider == "http":
        rates_url = r.url("rates.url", ("http", "https"))
    rates_file = Path(r.text("rates.file", required=False, default="content/rates.yaml"))
    if not rates_file.is_absolute():
        rates_file = ROOT / rates_file
    if rates_provider == "file" and not rates_file.is_file():
        raise r.error("rates.file", f"{rates_file} does not exist")
    rates = RatesConfig(rates_provider, rates_file, rates_url,
                        r.number("rates.ttl_seconds", int, 10, 86400), r.number("rates.timeout_seconds", float, 0.1, 3))
    link_secret = r.text("bookings.link_secret", required=False)
    if link_secret and len(link_secret) < 16:
        raise r.error("bookings.link_secret", "must be at least 16 characters")
    if not link_secret:  # stable for as long as the account's own secrets are
        link_secret = hmac.new(f"{wechat.token}:{wechat.appsecret}".encode(), b"booking-links",
                               hashlib.sha256).hexdigest()
    bookings = BookingsConfig(
        group_min_party=r.number("bookings.group_min_party", int, 2, 1000) if r.raw("bookings.group_min_party")
        is not None else 10,
        template_id=r.text("bookings.template_id", required=False),
        link_secret=link_secret,
        staff=_staff(r),
        reminder_template_id=r.text("bookings.reminder_template_id", required=False),
        refund_template_id=r.text("bookings.refund_template_id", required=False),
    )
    pay = _pay(r)
    live = _live(r)
    metrics = _metrics(r)
    console_secret = r.text("admin.console_secret", required=False)
    if console_secret and len(console_secret) < 32:
        raise r.error("admin.console_secret", "must be at least 32 characters (e.g. openssl rand -hex 32)")
    if not console_secret:  # stable for as long as the link secret is (itself derived from the account's)
        console_secret = hmac.new(link_secret.encode(), b"admin-console", hashlib.sha256).hexdigest()
    secrets = tuple(s for s in (wechat.token, wechat.appsecret, wechat.encoding_aes_key, *tokens, link_secret,
                                pay.apiv3_key, *(login.token for login in bookings.staff), live.exim_key,
                                live.data_go_kr_key, live.seoul_key, console_secret, metrics.token) if s)
    return Config(
        source=str(path),
        dev=dev,
        public_base_url=r.url("public_base_url", ("http", "https")).rstrip("/"),
        wechat=wechat,
        webhook=webhook,
        state_ttl_seconds=r.number("state.ttl_seconds", int, 60, 7 * 86400),
        follower_touch_seconds=r.number("followers.touch_every_seconds", int, 0, 86400),
        redis_url=redis_url,
        redis_timeout_seconds=r.number("redis.timeout_seconds", float, 0.05, 10),
        database_url=database_url,
        admin_tokens=tuple(tokens),
        content_dir=content_dir,
        routers=r.text("routers", required=False, default="handlers:ROUTERS"),
        queue_name=r.text("jobs.queue", required=False, default="yjy"),
        queue_maintenance_seconds=(r.number("jobs.maintenance_seconds", int, 1, 600)
                                   if r.raw("jobs.maintenance_seconds") is not None else 15),
        rates=rates,
        bookings=bookings,
        handoff=_handoff(r),
        pay=pay,
        live=live,
        metrics=metrics,
        insights=InsightsConfig(keep_raw_days=r.number("insights.keep_raw_days", int, 1, 3650)
                                if r.raw("insights.keep_raw_days") is not None else 30),
        database_statement_timeout_seconds=_optional(r, "database.statement_timeout_seconds", 0.1, 600, 10.0),
        database_pool_timeout_seconds=_optional(r, "database.pool_timeout_seconds", 0.1, 60, 2.0),
        simulator=r.flag("simulator.enabled"),
        admin_logins=admin_logins,
        console_secret=console_secret,
        secrets=secrets,
    )
