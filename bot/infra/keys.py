"""Every Redis key the service uses, built in one place so they never drift apart."""
from __future__ import annotations

import hashlib


class Keys:
    """Key builder for one WeChat account (keys are namespaced by AppID)."""

    def __init__(self, appid: str, prefix: str = "yjy") -> None:
        self.base = f"{prefix}:{appid}"

    def state(self, openid: str) -> str:
        return f"{self.base}:state:{openid}"

    def dedup(self, delivery_key: str) -> str:
        # Hashed: the parts come from outside and may be long or odd.
        return f"{self.base}:dedup:{hashlib.sha1(delivery_key.encode()).hexdigest()}"

    def late_reply(self, delivery_key: str) -> str:
        """A late reply sent (or being sent): a job that runs again does not send it twice."""
        return f"{self.base}:late:{hashlib.sha1(delivery_key.encode()).hexdigest()}"

    def payment_message(self, ref: str, outcome: str) -> str:
        """The traveler was told about this payment outcome: a rerun of the job does not tell them twice."""
        return f"{self.base}:paymsg:{ref}:{outcome}"

    def signed_query(self, digest: str) -> str:
        """A signed webhook query seen with one body (plain mode): the same query with another body is forged."""
        return f"{self.base}:signed:{digest}"

    def access_token(self) -> str:
        return f"{self.base}:access_token"

    def rates(self) -> str:
        return f"{self.base}:rates"

    def rates_lock(self) -> str:
        return f"{self.base}:rates:lock"

    def live(self, kind: str, key: str) -> str:
        """The last reading of one live source (weather for a grid cell, air at a station, a hotspot's crowd)."""
        return f"{self.base}:live:{kind}:{key}"

    def live_lock(self, kind: str, key: str) -> str:
        return f"{self.base}:live:{kind}:{key}:lock"

    def live_calls(self, source: str, day: str) -> str:
        """Calls made to a source on one day (its quota), counted across workers."""
        return f"{self.base}:live-calls:{source}:{day}"

    def live_asked(self, kind: str) -> str:
        """What travelers asked about lately (a sorted set by time): refreshed first."""
        return f"{self.base}:live-asked:{kind}"

    def access_token_lock(self) -> str:
        return f"{self.base}:access_token:lock"

    def news_media(self, digest: str) -> str:
        """media_id of uploaded news articles, by the hash of the articles."""
        return f"{self.base}:news_media:{digest}"

    def insight_events(self) -> str:
        """Message events (one JSON each) the webhook appends and the insights flush moves to the database."""
        return f"{self.base}:insights:events"

    def insight_flushing(self, batch: str) -> str:
        """A batch of events being flushed (renamed from `insight_events`), deleted once applied."""
        return f"{self.base}:insights:flushing:{batch}"

    def job_counts(self) -> str:
        """The jobs' counters for /metrics (a hash `name:result` -> count), shared by every worker and host."""
        return f"{self.base}:metrics:jobs"

    def inbox_reply(self, digest: str) -> str:
        """One staff reply's send mark (claimed before WeChat is called: a reply goes out once)."""
        return f"{self.base}:inbox:reply:{digest}"

    def console_logout(self, csrf: str) -> str:
        """A console session logged out (by its CSRF value, hashed: a copied cookie is refused until it expires)."""
        return f"{self.base}:console-logout:{hashlib.sha256(csrf.encode()).hexdigest()[:32]}"

    def login_failures(self, address: str) -> str:
        """Failed console logins from one client address (hashed: the address is not kept as such)."""
        return f"{self.base}:console-login-failures:{hashlib.sha256(address.encode()).hexdigest()[:24]}"

    def insight_batches(self) -> str:
        """The ids of the batches being flushed (a set): one a crashed flush left behind is found here."""
        return f"{self.base}:insights:batches"

    def mass_send_rate(self) -> str:
        """Prefix of the per-minute counters of mass-send calls (WeChat allows 60 a minute)."""
        return f"{self.base}:mass_rate"
