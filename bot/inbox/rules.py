"""When staff may answer a traveler through WeChat's customer-service (kf) message API, and what to say when not.

WeChat delivers a kf message only within 48 hours of the traveler's last message or event, at most 5 of them
per such message, and never to someone who unfollowed (45015 outside the window or unfollowed, 45047 over the
count). These rules say no first, with a precise reason, so staff are not left with an error code.

The last activity is `Follower.last_active_at`, written at most every `followers.touch_every_seconds`: the
traveler may have written up to that long after it. Both checks read it as it is, which is conservative: the
window they compute ends no later than WeChat's, and the count of replies "since they last wrote" is never lower
than WeChat's. A local refusal can come that much early; a reply let through is inside WeChat's rules (unless the
bot's own late replies, which use the same quota and are not counted here, took the last places).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.inbox.items import InboxError
from bot.infra.clock import in_seoul

WINDOW = timedelta(hours=48)
QUOTA = 5  # kf messages per traveler message (service accounts, today's documentation)
# Staff answers are short: 600 characters of Chinese are 1,800 UTF-8 bytes, inside WeChat's 2,048-byte text
# limit, so a reply is never cut (the bot's own `fit_text` would cut a longer one at a line end), and a screen
# of it reads on a phone.
MAX_TEXT = 600
FINAL_ERRCODES = {45015: "outside the 48-hour window, or the traveler unfollowed the account",
                  45047: "the customer-service messages allowed since the traveler last wrote are used up (the "
                         "bot's own late replies count too)"}
RETRY_ERRCODES = {-1}  # WeChat's "system busy": nothing was sent, asking again may work


@dataclass(frozen=True)
class Refusal:
    outcome: str  # stored in inbox_replies.outcome (40 characters at most)
    reason: str  # for staff (English: the CLI, the API)
    code: str = ""  # unsubscribed | no_activity | window | quota | wechat: a page says it in the staff's language
    facts: dict[str, str] = field(default_factory=dict)  # what the reason names (times, counts, WeChat's code)


def check_text(text: str) -> str:
    """The reply as sent (ends stripped); InboxError 400 when empty or longer than MAX_TEXT."""
    cleaned = (text or "").strip()
    if not cleaned:
        raise InboxError("the reply is empty: write what the traveler should read", 400)
    if len(cleaned) > MAX_TEXT:
        raise InboxError(f"the reply is {len(cleaned)} characters; at most {MAX_TEXT} (WeChat shows long texts "
                         "badly on a phone: split it or shorten it)", 400)
    return cleaned


def window_ends(last_active: datetime | None) -> datetime | None:
    return last_active + WINDOW if last_active is not None else None


def refusal(*, now: datetime, subscribed: bool | None, unsubscribed_at: datetime | None,
            last_active: datetime | None, sent_since: int) -> Refusal | None:
    """Why WeChat would not deliver a kf message now (None: it should). `subscribed` None: no follower record;
    `sent_since`: kf replies staff sent since `last_active`."""
    if subscribed is False:
        gone = f" on {stamp(unsubscribed_at)}" if unsubscribed_at else ""
        return Refusal("refused: unsubscribed", f"the traveler unfollowed the account{gone}: WeChat delivers "
                                                "nothing to them", "unsubscribed", {"when": stamp(unsubscribed_at)})
    if subscribed is None or last_active is None:
        return Refusal("refused: no activity", "no message from the traveler is on record, so WeChat's 48-hour "
                                               "window is not open: they can be answered once they write",
                       "no_activity")
    ends = last_active + WINDOW
    if now >= ends:
        return Refusal("refused: window", f"outside WeChat's 48-hour window: the traveler last wrote "
                                          f"{stamp(last_active)} (the window closed {stamp(ends)}); they can be "
                                          "answered once they write again",
                       "window", {"last": stamp(last_active), "ends": stamp(ends)})
    if sent_since >= QUOTA:
        return Refusal("refused: quota", f"WeChat allows {QUOTA} customer-service messages after a traveler's "
                                         f"message: {sent_since} were sent since they last wrote "
                                         f"({stamp(last_active)}); they can be answered again once they write",
                       "quota", {"quota": str(QUOTA), "sent": str(sent_since), "last": stamp(last_active)})
    return None


def wechat_refusal(errcode: int, errmsg: str) -> Refusal:
    """WeChat's own final refusal (never retried: it would fail again and may burn quota)."""
    why = FINAL_ERRCODES.get(errcode) or f"{errmsg or 'no message'}"[:120]
    return Refusal(f"refused: wechat {errcode}"[:40], f"WeChat refused the message ({errcode}): {why}; not sent",
                   "wechat", {"errcode": str(errcode)})


def stamp(when: datetime | None) -> str:
    """A time as staff read it: Seoul wall time, to the minute."""
    return f"{in_seoul(when):%Y-%m-%d %H:%M}" if when is not None else "-"
