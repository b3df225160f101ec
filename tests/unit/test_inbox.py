"""The inbox's rules without an app: ids, the unified statuses, WeChat's 48-hour window and 5-message quota with
their reasons, and how an item's conversation is put together from what the state keeps."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.inbox import rules, timeline
from bot.inbox.items import InboxError, Message, group_status, handoff_status, parse_id, staff_name
from bot.infra.clock import SEOUL

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=SEOUL)


def refusal(**given):  # type: ignore[no-untyped-def]
    values = dict(now=NOW, subscribed=True, unsubscribed_at=None, last_active=NOW - timedelta(hours=1), sent_since=0)
    return rules.refusal(**{**values, **given})


# --- ids and statuses ------------------------------------------------------------------------------------
def test_ids_name_a_handoff_row_or_a_group_reference():
    assert parse_id("H12") == ("H", 12) and parse_id(" h7 ") == ("H", 7)
    assert parse_id("GR2ABCDE") == ("G", "GR2ABCDE") and parse_id("gr2abcde") == ("G", "GR2ABCDE")
    for bad in ("", "12", "H", "Hx1", "YJ2ABCDE", "H1; drop table", "G"):
        with pytest.raises(InboxError) as found:
            parse_id(bad)
        assert found.value.status == 404 and "H<number>" in found.value.message


def test_statuses_read_the_same_for_handoffs_and_group_requests():
    assert handoff_status("open", None, False) == "open"
    assert handoff_status("open", "mei", False) == "assigned"  # a complaint's follow-up reopened it: still hers
    assert handoff_status("open", None, True) == "assigned"  # a kf agent took it in WeChat's workbench
    assert [handoff_status(s, "mei", False) for s in ("assigned", "answered", "closed")] == \
        ["assigned", "answered", "closed"]
    assert [group_status(s, None) for s in ("new", "contacted", "closed")] == ["open", "answered", "closed"]
    assert group_status("new", "mei") == "assigned" and group_status("contacted", "mei") == "answered"
    assert staff_name("staff:mei") == "mei" and staff_name("cli:kim") == "kim" and staff_name("token:ab12") == "token:ab12"


# --- the reply rules ---------------------------------------------------------------------------------------
def test_a_reply_is_short_text():
    assert rules.check_text("  您好 \n") == "您好"
    assert rules.check_text("字" * 600) == "字" * 600
    assert len(("字" * 600).encode()) <= 2048  # fits WeChat's text limit: never cut
    for bad in ("", "   \n", "字" * 601):
        with pytest.raises(InboxError) as found:
            rules.check_text(bad)
        assert found.value.status == 400


def test_the_window_is_48_hours_from_the_last_activity_on_record():
    assert refusal() is None
    assert refusal(last_active=NOW - timedelta(hours=47, minutes=59)) is None
    closed = refusal(last_active=NOW - timedelta(hours=48))
    assert closed is not None and closed.outcome == "refused: window"
    old = refusal(last_active=datetime(2026, 11, 29, 0, 2, tzinfo=UTC))  # followers' times are UTC
    assert old is not None and old.reason.startswith(
        "outside WeChat's 48-hour window: the traveler last wrote 2026-11-29 09:02 (the window closed "
        "2026-12-01 09:02)")
    assert rules.window_ends(NOW) == NOW + timedelta(hours=48) and rules.window_ends(None) is None


def test_five_messages_per_traveler_message_and_nothing_to_those_who_left():
    assert refusal(sent_since=4) is None
    over = refusal(sent_since=5)
    assert over is not None and over.outcome == "refused: quota" and "5 were sent since they last wrote" in over.reason
    gone = refusal(subscribed=False, unsubscribed_at=datetime(2026, 11, 30, 0, 0, tzinfo=UTC))
    assert gone is not None and gone.reason.startswith("the traveler unfollowed the account on 2026-11-30 09:00")
    unknown = refusal(subscribed=None, last_active=None)
    assert unknown is not None and unknown.outcome == "refused: no activity"
    for found in (over, gone, unknown, refusal(last_active=NOW - timedelta(days=3))):
        assert found is not None and len(found.outcome) <= 40  # inbox_replies.outcome


def test_wechat_refusals_say_what_the_code_means():
    assert "outside the 48-hour window" in rules.wechat_refusal(45015, "response out of time limit").reason
    assert rules.wechat_refusal(45047, "out of response count limit").outcome == "refused: wechat 45047"
    other = rules.wechat_refusal(40003, "invalid openid")
    assert other.reason == "WeChat refused the message (40003): invalid openid; not sent"


# --- the conversation ---------------------------------------------------------------------------------------
def test_newer_messages_are_what_follows_the_overlap():
    stored = ["a", "b", "c", "转人工"]
    assert timeline.newer(stored, ["a", "b", "c", "转人工"]) == []
    assert timeline.newer(stored, ["b", "c", "转人工", "谢谢"]) == ["谢谢"]
    assert timeline.newer(stored, ["转人工", "1", "2", "3", "4"]) == ["1", "2", "3", "4"]
    assert timeline.newer(stored, ["5", "6", "7", "8", "9"]) == ["5", "6", "7", "8", "9"]  # more than 5 new
    assert timeline.newer(stored, []) == []  # the state expired and they wrote nothing since
    assert timeline.newer(["好", "好"], ["好", "好", "好"]) == ["好"]


def test_a_handoff_reads_earlier_messages_the_request_replies_then_recent_ones():
    created = NOW
    replies = [Message(NOW + timedelta(minutes=9), "kim", "second"), Message(NOW + timedelta(minutes=3), "mei", "first")]
    found = timeline.handoff_messages(stored=["景福宫几点开门", "转人工 138****78"], text="转人工 13812345678",
                                      created_at=created, replies=replies,
                                      current=["景福宫几点开门", "转人工 138****78", "好的"])
    assert [(m.at, m.who, m.text) for m in found] == [
        (None, "traveler", "景福宫几点开门"), (created, "traveler", "转人工 13812345678"),
        (NOW + timedelta(minutes=3), "mei", "first"), (NOW + timedelta(minutes=9), "kim", "second"),
        (None, "traveler", "好的")]
    # A complaint whose detail came next: the detail is in its text, not shown twice.
    complaint = timeline.handoff_messages(stored=["我要投诉"], text="我要投诉\n导游迟到了", created_at=created,
                                          replies=[], current=["我要投诉", "导游迟到了", "还有吗"])
    assert [m.text for m in complaint] == ["我要投诉\n导游迟到了", "还有吗"]


def test_a_group_request_reads_the_request_replies_then_recent_messages():
    found = timeline.group_messages(request="group request GR2ABCDE", created_at=NOW,
                                    replies=[Message(NOW + timedelta(hours=1), "mei", "ok")], current=["12", "在吗"])
    assert [(m.who, m.text) for m in found] == [("traveler", "group request GR2ABCDE"), ("mei", "ok"),
                                                ("traveler", "12"), ("traveler", "在吗")]
