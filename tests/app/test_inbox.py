"""The staff inbox (issue #17) on both back-ends: a traveler's 转人工 through the real webhook becomes an open item;
staff assign, answer through the CLI and the admin API (the fake WeChat API receives exactly one kf text per
reply, however often a reply is retried), close; the 48-hour window, the 5-message quota and unfollowing are
refused here before WeChat is called; WeChat's own 45015 / 45047 are final, an unreachable WeChat is "try
again", a timed-out reply is never sent twice; group requests and complaints share the list; everything audited."""
from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from bot.bookings import orders as bookings
from bot.followers import handoff
from bot.inbox import inbox
from bot.infra.clock import SEOUL, Clock
from bot.infra.db.models import AdminAudit, Follower, InboxReply

TOKEN = "inbox-token-0123456789abcdef"
API_ACTOR = "token:" + hashlib.sha256(TOKEN.encode()).hexdigest()[:8]
NOW = datetime(2026, 5, 1, 10, 0, tzinfo=SEOUL)  # a Friday, in staff hours
SEND = "message/custom/send"
PHONE = "+8613812345678"


@pytest.fixture
def app(app_factory):  # type: ignore[no-untyped-def]
    app = app_factory(admin__tokens=[TOKEN])
    app.extensions["yjy"].services.clock = Clock(NOW)
    return app


def at(minutes: int = 0) -> int:
    """A message's CreateTime, `minutes` after NOW."""
    return int((NOW + timedelta(minutes=minutes)).timestamp())


def later(app, minutes: int) -> None:  # type: ignore[no-untyped-def]
    app.extensions["yjy"].services.clock = Clock(NOW + timedelta(minutes=minutes))


def call(app, method: str, path: str, **kwargs):  # type: ignore[no-untyped-def]
    return app.test_client().open(f"/admin/api{path}", method=method, headers={"Authorization": f"Bearer {TOKEN}"},
                                  **kwargs)


def cli(app, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["inbox", *args])


def sent_texts(fake_api, openid: str) -> list[str]:  # type: ignore[no-untyped-def]
    return [c.body["text"]["content"] for c in fake_api.calls_to(SEND)
            if c.body["touser"] == openid and c.body["msgtype"] == "text" and c.accepted]


def audit_rows(app) -> list[tuple[str, str, str, int]]:  # type: ignore[no-untyped-def]
    with app.extensions["yjy"].db.session() as s:
        return [(a.actor, a.method, a.path, a.status) for a in s.scalars(select(AdminAudit).order_by(AdminAudit.id))]


def outcomes(app, item: str) -> list[str]:  # type: ignore[no-untyped-def]
    with app.extensions["yjy"].db.session() as s:
        return list(s.scalars(select(InboxReply.outcome).where(InboxReply.item == item).order_by(InboxReply.id)))


def follower(app, openid: str, *, active: datetime | None, subscribed: bool = True) -> None:  # type: ignore[no-untyped-def]
    """A follower row as bot.followers.records writes it (times in UTC)."""
    with app.extensions["yjy"].db.session() as s:
        s.execute(insert(Follower).values(
            openid=openid, subscribed=subscribed, language="zh-CN", tags=[], created_at=NOW.astimezone(UTC),
            last_active_at=active.astimezone(UTC) if active else None,
            unsubscribed_at=None if subscribed else (NOW - timedelta(hours=1)).astimezone(UTC)))


def request(app, openid: str, text: str = "转人工", kind: str = "handoff") -> str:  # type: ignore[no-untyped-def]
    ext = app.extensions["yjy"]
    made = handoff.record(ext.db, openid=openid, kind=kind, text=text, recent=[text], lang="zh-CN",
                          transferred=False, source=None, now=NOW)
    return f"H{made.id}"


# --- the whole way: webhook, list, assign, reply (CLI and API), close --------------------------------------
def test_a_handoff_is_listed_assigned_answered_and_closed(app, wechat, fake_api, openid):
    wechat.say(openid, "景福宫几点开门", create_time=at())
    reply = wechat.say(openid, "转人工 电话13812345678", create_time=at(1))
    assert isinstance(reply, dict) and "已转告工作人员" in reply["Content"]  # nobody online: recorded for staff
    later(app, 5)

    listed = cli(app, "list", "--by", "mei")
    assert listed.exit_code == 0, listed.output
    [line] = [x for x in listed.output.splitlines() if "转人工" in x]
    item = line.split()[0]
    assert item.startswith("H") and line.split()[1:4] == ["handoff", "open", "-"]
    api = call(app, "GET", "/inbox?status=open")
    assert api.status_code == 200 and [i["id"] for i in api.json["items"]] == [item]
    assert api.json["items"][0]["text"] == "转人工 电话138****78" and "13812345678" not in api.get_data(as_text=True)
    assert api.json["counts"]["open"] == 1 and api.json["items"][0]["transferred"] is False

    assigned = cli(app, "assign", item, "kim", "--by", "mei")
    assert assigned.exit_code == 0 and assigned.output.strip() == f"{item} is assigned, assigned to kim"
    assert [i["id"] for i in call(app, "GET", "/inbox?status=assigned").json["items"]] == [item]
    assert cli(app, "list", "--mine", "kim", "--by", "kim").output.count(item) == 1

    by_cli = cli(app, "reply", item, "您好，我是客服小金，请问需要什么帮助？", "--by", "kim")
    assert by_cli.exit_code == 0, by_cli.output
    assert sent_texts(fake_api, openid) == ["您好，我是客服小金，请问需要什么帮助？"]
    again = cli(app, "reply", item, "您好，我是客服小金，请问需要什么帮助？", "--by", "kim")  # the same command again
    assert again.exit_code == 0 and len(fake_api.calls_to(SEND)) == 1

    by_api = call(app, "POST", f"/inbox/{item}/reply", json={"text": "明天九点有空位", "reply_id": "draft-1"})
    assert by_api.status_code == 201 and by_api.json["sent"] is True, by_api.json
    retried = call(app, "POST", f"/inbox/{item}/reply", json={"text": "明天九点有空位", "reply_id": "draft-1"})
    assert retried.status_code == 201 and sent_texts(fake_api, openid) == ["您好，我是客服小金，请问需要什么帮助？",
                                                                            "明天九点有空位"]
    assert [c.body["touser"] for c in fake_api.calls_to(SEND)] == [openid, openid]

    wechat.say(openid, "好的谢谢", create_time=at(7))  # the bot answers as usual; staff see it
    shown = call(app, "GET", f"/inbox/{item}").json
    assert (shown["status"], shown["assignee"]) == ("answered", "kim")
    assert shown["answered_at"] == (NOW + timedelta(minutes=5)).isoformat()
    assert [(m["at"] is not None, m["who"], m["text"]) for m in shown["messages"]] == [
        (False, "traveler", "景福宫几点开门"), (True, "traveler", "转人工 电话138****78"),
        (True, "kim", "您好，我是客服小金，请问需要什么帮助？"), (True, API_ACTOR, "明天九点有空位"),
        (False, "traveler", "好的谢谢")]
    # The traveler last wrote at 10:01, but activity is written at most every 10 minutes: the window is counted
    # from 10:00, the activity on record (bot.inbox.rules).
    assert shown["window_ends"] == (NOW + timedelta(hours=48)).isoformat()
    assert shown["replies_left"] == 3

    show = cli(app, "show", item, "--by", "kim")
    assert show.exit_code == 0 and "reply window: until 2026-05-03 10:00 (Seoul), 3 customer-service messages left" \
        in show.output
    assert "(earlier)         traveler: 景福宫几点开门" in show.output and "(recent)          traveler: 好的谢谢" in show.output
    assert "13812345678" in show.output  # staff's own terminal: as typed

    closed = call(app, "POST", f"/inbox/{item}/close")
    assert closed.status_code == 200 and closed.json["status"] == "closed" and closed.json["closed_at"]
    assert call(app, "POST", f"/inbox/{item}/reply", json={"text": "还在吗"}).status_code == 409
    refused = cli(app, "reply", item, "还在吗", "--by", "kim")
    assert refused.exit_code == 1 and f"{item} is closed" in refused.output
    assert cli(app, "close", item, "--by", "kim").exit_code == 1
    assert call(app, "GET", "/inbox").json["items"] == [] and call(app, "GET", "/inbox?status=closed").json["count"] == 1
    assert len(fake_api.calls_to(SEND)) == 2 and outcomes(app, item) == ["sent", "sent"]

    trail = audit_rows(app)
    assert ("cli:kim", "CLI", f"inbox assign {item} kim", 0) not in trail  # --by mei assigned it
    assert ("cli:mei", "CLI", f"inbox assign {item} kim", 0) in trail
    assert ("cli:kim", "CLI", f"inbox reply {item}", 0) in trail and ("cli:kim", "CLI", f"inbox reply {item}", 1) in trail
    assert ("cli:mei", "CLI", "inbox list", 0) in trail and ("cli:kim", "CLI", f"inbox show {item}", 0) in trail
    api_trail = [(method, path, status) for _, method, path, status in trail if method != "CLI"]
    assert ("POST", f"/admin/api/inbox/{item}/reply", 201) in api_trail
    assert ("POST", f"/admin/api/inbox/{item}/reply", 409) in api_trail
    assert ("GET", f"/admin/api/inbox/{item}", 200) in api_trail and ("POST", f"/admin/api/inbox/{item}/close", 200) \
        in api_trail
    with app.extensions["yjy"].db.session() as s:
        details = list(s.scalars(select(AdminAudit.detail).where(AdminAudit.path.like("%reply%"))))
    assert not any("明天九点" in str(d) or "小金" in str(d) for d in details)  # the words stay out of the audit log


# --- refused here, before WeChat ---------------------------------------------------------------------------
def test_the_window_quota_and_unfollowing_are_refused_before_wechat_is_called(app, fake_api):
    follower(app, "o-old", active=NOW - timedelta(hours=49))
    follower(app, "o-gone", active=NOW - timedelta(hours=1), subscribed=False)
    follower(app, "o-busy", active=NOW - timedelta(minutes=30))
    old, gone, never, busy = (request(app, o) for o in ("o-old", "o-gone", "o-none", "o-busy"))

    window = call(app, "POST", f"/inbox/{old}/reply", json={"text": "您好"})
    assert window.status_code == 422 and window.json["sent"] is False
    assert window.json["error"].startswith("outside WeChat's 48-hour window: the traveler last wrote 2026-04-29 09:00")
    by_cli = cli(app, "reply", old, "您好", "--by", "mei")
    assert by_cli.exit_code == 1 and "not sent: outside WeChat's 48-hour window" in by_cli.output
    assert "unfollowed" in call(app, "POST", f"/inbox/{gone}/reply", json={"text": "您好"}).json["error"]
    assert "no message from the traveler is on record" in call(app, "POST", f"/inbox/{never}/reply",
                                                               json={"text": "您好"}).json["error"]
    assert fake_api.calls_to(SEND) == []
    assert outcomes(app, old) == ["refused: window", "refused: window"] and outcomes(app, gone) == ["refused: unsubscribed"]
    assert call(app, "GET", f"/inbox/{old}").json["replies_left"] == 0

    box = inbox(app.extensions["yjy"])
    for n in range(5):
        assert box.reply(busy, f"第{n + 1}条", by="mei").sent
    assert box.get(busy).replies_left == 0
    sixth = call(app, "POST", f"/inbox/{busy}/reply", json={"text": "第6条"})
    assert sixth.status_code == 422 and "5 were sent since they last wrote (2026-05-01 09:30)" in sixth.json["error"]
    assert len(sent_texts(fake_api, "o-busy")) == 5 and outcomes(app, busy)[-1] == "refused: quota"

    empty = call(app, "POST", f"/inbox/{busy}/reply", json={"text": "   "})
    assert empty.status_code == 400 and empty.json["field"] == "text"
    assert call(app, "POST", f"/inbox/{busy}/reply", json={"text": "字" * 601}).status_code == 400
    assert call(app, "POST", f"/inbox/{busy}/reply", data="text=hi").status_code == 415
    assert cli(app, "reply", busy, "", "--by", "mei").exit_code == 2
    assert call(app, "POST", "/inbox/H99999/reply", json={"text": "hi"}).status_code == 404
    assert call(app, "GET", "/inbox/nonsense").status_code == 404
    assert call(app, "POST", "/inbox/GR999999/assign", json={"to": "mei"}).status_code == 404
    assert call(app, "POST", f"/inbox/{busy}/assign", json={}).json["field"] == "to"
    assert call(app, "GET", "/inbox?status=done").status_code == 400
    assert cli(app, "show", "H99999", "--by", "mei").exit_code == 1
    assert len(fake_api.calls_to(SEND)) == 5


# --- WeChat's answers ----------------------------------------------------------------------------------------
def test_wechat_refusals_are_final_and_an_unreachable_wechat_is_try_again(app, fake_api, tmp_path):
    follower(app, "o-kf", active=NOW - timedelta(hours=2))
    item = request(app, "o-kf")

    fake_api.fail(SEND, errcode=45015)
    refused = call(app, "POST", f"/inbox/{item}/reply", json={"text": "您好"})
    assert refused.status_code == 422 and "(45015)" in refused.json["error"] and "48-hour window" in refused.json["error"]
    assert len(fake_api.calls_to(SEND)) == 1  # not retried
    fake_api.fail(SEND, errcode=45047)
    over = cli(app, "reply", item, "还在吗", "--by", "mei")
    assert over.exit_code == 1 and "(45047)" in over.output and len(fake_api.calls_to(SEND)) == 2
    assert outcomes(app, item) == ["refused: wechat 45015", "refused: wechat 45047"]

    fake_api.fail(SEND, status=502)
    down = call(app, "POST", f"/inbox/{item}/reply", json={"text": "第二次"})
    assert down.status_code == 502 and down.json["error"].endswith("the reply was not sent; try again")
    assert len(outcomes(app, item)) == 2  # nothing stored: nothing happened
    assert call(app, "POST", f"/inbox/{item}/reply", json={"text": "第二次"}).status_code == 201  # tried again
    assert sent_texts(fake_api, "o-kf") == ["第二次"]

    app.extensions["yjy"].services.api.timeout = 0.3
    fake_api.fail(SEND, delay=0.8)  # WeChat sends it, but answers too late
    timed_out = call(app, "POST", f"/inbox/{item}/reply", json={"text": "第三次"})
    assert timed_out.status_code == 502 and "may or may not have reached the traveler" in timed_out.json["error"]
    fake_api.wait_for(SEND, 5)
    held = call(app, "POST", f"/inbox/{item}/reply", json={"text": "第三次"})
    assert held.status_code == 409 and "may have reached the traveler: it is not sent twice" in held.json["error"]
    assert len(fake_api.calls_to(SEND)) == 5  # the retry never reached WeChat
    assert outcomes(app, item)[-1] == "unknown: timeout"
    assert inbox(app.extensions["yjy"]).get(item).replies_left == 3  # a reply that may have arrived counts

    words = tmp_path / "reply.txt"
    words.write_text("换个说法：第三次\n", encoding="utf-8")
    assert cli(app, "reply", item, "text too", "--file", str(words), "--by", "mei").exit_code == 2
    by_file = cli(app, "reply", item, "--file", str(words), "--by", "mei")
    assert by_file.exit_code == 0, by_file.output
    assert sent_texts(fake_api, "o-kf") == ["第二次", "第三次", "换个说法：第三次"]  # the timed-out one did arrive: once


# --- one list: complaints, group requests, kf transfers -----------------------------------------------------
def test_complaints_group_requests_and_transfers_share_the_list(app_factory, fake_api, openid):
    from tests.support import WeChat

    app = app_factory(admin__tokens=[TOKEN], handoff__kf_enabled=True)
    ext = app.extensions["yjy"]
    ext.services.clock = Clock(NOW)
    wechat = WeChat(app)
    wechat.say(openid, "我要投诉 导游态度很差", create_time=at())
    fake_api.kf_online = [fake_api.kf_agent("test1@test")]
    assert wechat.say("o-kf-user", "转人工", create_time=at())["MsgType"] == "transfer_customer_service"  # type: ignore[index]
    order = bookings.Order(openid=openid, product=ext.content.products.get("dmz_tour"),  # type: ignore[arg-type]
                           day=date(2026, 5, 20), slot="07:30", adults=12, children=0, contact_name="王芳",
                           phone=PHONE, flow_key=bookings.new_flow_key())
    group = bookings.request_group(ext.db, order, NOW + timedelta(minutes=2)).ref
    later(app, 10)

    listed = call(app, "GET", "/inbox").json
    kinds = {i["kind"]: i for i in listed["items"]}
    assert [i["kind"] for i in listed["items"]] == ["complaint", "handoff", "group"]  # oldest first
    assert (kinds["complaint"]["status"], kinds["complaint"]["summary"]) == ("open", "我要投诉 导游态度很差")
    assert (kinds["handoff"]["status"], kinds["handoff"]["transferred"]) == ("assigned", True)  # a kf agent has it
    assert (kinds["group"]["id"], kinds["group"]["status"]) == (group, "open")
    assert kinds["group"]["summary"] == "dmz_tour 2026-05-20 07:30, party 12"
    assert PHONE not in str(listed) and kinds["group"]["text"].endswith("contact 王芳 +86 138****5678")
    assert [i["kind"] for i in call(app, "GET", "/inbox?status=open").json["items"]] == ["complaint", "group"]
    assert [i["id"] for i in call(app, "GET", "/inbox?kind=group").json["items"]] == [group]
    assert listed["counts"] == {"open": 2, "assigned": 1, "answered": 0, "closed": 0}
    listing = cli(app, "list", "--by", "mei").output
    assert "kf agent" in listing and group in listing and "3 items; in all: 2 open, 1 assigned" in listing

    assert call(app, "POST", f"/inbox/{group.lower()}/assign", json={"to": "mei"}).json["status"] == "assigned"
    sent = call(app, "POST", f"/inbox/{group}/reply", json={"text": "您好，12人团可以安排，请确认"})
    assert sent.status_code == 201 and sent.json["item"]["status"] == "answered", sent.json
    assert sent_texts(fake_api, openid) == ["您好，12人团可以安排，请确认"]
    groups = app.test_cli_runner().invoke(args=["bookings", "groups", "--by", "mei"])
    assert f"{group}  dmz_tour" in groups.output and groups.output.splitlines()[0].endswith("contacted")
    shown = call(app, "GET", f"/inbox/{group}").json
    assert shown["answered_at"] == (NOW + timedelta(minutes=10)).isoformat()
    assert [m["who"] for m in shown["messages"]] == ["traveler", API_ACTOR, "traveler"]  # the request, the reply, recent
    closed = app.test_cli_runner().invoke(args=["bookings", "group-status", group, "closed", "--by", "mei"])
    assert closed.exit_code == 0 and inbox(ext).get(group).status == "closed"
    assert call(app, "GET", "/inbox?status=closed").json["items"][0]["id"] == group
    assert inbox(ext).counts() == {"open": 1, "assigned": 1, "answered": 0, "closed": 1}
