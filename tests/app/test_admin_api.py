"""The marketers' admin API: bearer tokens, JSON errors naming the field, broadcasts, the audit log."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert, select, text

from bot.infra.db.models import AdminAudit, Follower

TOKEN = "marketing-token-0123456789"
OTHER = "second-token-abcdefghijkl"
NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)


@pytest.fixture
def admin(app_factory):  # type: ignore[no-untyped-def]
    app = app_factory(admin__tokens=[TOKEN, OTHER])
    ext = app.extensions["yjy"]
    with ext.db.session() as s:
        for table in ("admin_audit", "broadcast_batches", "broadcasts", "mass_receipts", "followers"):
            s.execute(text(f"DELETE FROM {table}"))
        s.execute(insert(Follower), [dict(openid=f"o{i}", subscribed=True, language="zh-CN", tags=[],
                                          created_at=NOW, last_active_at=NOW) for i in range(3)])
    return app


def call(app, method: str, path: str, token: str | None = TOKEN, **kwargs):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().open(f"/admin/api{path}", method=method, headers=headers, **kwargs)


@pytest.mark.parametrize("token", [None, "", "marketing-token-012345678", "x" * 40])
def test_nothing_is_readable_without_a_valid_token(admin, token):
    response = call(admin, "GET", "/broadcasts", token=token)
    assert response.status_code == 401 and response.json == {"error": "a valid bearer token is required"}
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert call(admin, "POST", "/broadcasts", token=token, json={}).status_code == 401


def test_no_configured_tokens_means_no_access(app):
    assert call(app, "GET", "/broadcasts").status_code == 401


def test_validation_errors_name_the_field(admin):
    bad = call(admin, "POST", "/broadcasts", json={"name": "x", "audience": {"active_days": -1}, "text": "hi"})
    assert bad.status_code == 400 and bad.json["field"] == "audience.active_days"
    assert call(admin, "POST", "/broadcasts", json={"name": "x", "audience": {"all": True}}).json["error"] \
        == "give exactly one of text, news or media_id"
    assert call(admin, "POST", "/broadcasts", data="name=x").status_code == 415
    # ids that are not in content/ would quietly select nobody
    typo = call(admin, "POST", "/broadcasts", json={"name": "x", "audience": {"interests": ["fod"]}, "text": "hi"})
    assert typo.status_code == 400 and typo.json["field"] == "audience.interests"
    assert "'fod' is not an id in content/categories.yaml" in typo.json["error"] and "food" in typo.json["error"]
    gone = call(admin, "POST", "/broadcasts", json={"name": "x", "audience": {"booked": ["dmz"]}, "text": "hi"})
    assert gone.json["field"] == "audience.booked" and "dmz_tour" in gone.json["error"]
    assert call(admin, "POST", "/broadcasts", data="{not json", content_type="application/json").status_code == 400


def test_dry_run_then_create_show_cancel_with_an_audit_trail(admin):
    spec = {"name": "冬日首尔", "audience": {"language": "zh-CN"}, "text": "首尔下雪啦"}
    dry = call(admin, "POST", "/broadcasts", json={**spec, "dry_run": True})
    assert dry.status_code == 200 and dry.json["audience"] == 3 and dry.json["sample"] == ["o0", "o1", "o2"]
    assert call(admin, "GET", "/broadcasts").json == []  # a dry run stores nothing

    created = call(admin, "POST", "/broadcasts", json=spec)
    assert created.status_code == 201 and created.json["audience"] == 3 and created.json["batches"] == 1
    bid = created.json["id"]
    shown = call(admin, "GET", f"/broadcasts/{bid}", token=OTHER).json
    assert shown["status"] == "planned" and shown["batches"][0]["size"] == 3
    assert call(admin, "POST", f"/broadcasts/{bid}/cancel").json["status"] == "cancelled"
    assert call(admin, "POST", f"/broadcasts/{bid}/send").status_code == 409
    assert call(admin, "GET", "/broadcasts/999999").status_code == 404

    with admin.extensions["yjy"].db.session() as s:
        trail = [(a.method, a.path, a.status, a.actor) for a in s.scalars(select(AdminAudit).order_by(AdminAudit.id))]
    assert [t[:3] for t in trail] == [("POST", "/admin/api/broadcasts", 200), ("POST", "/admin/api/broadcasts", 201),
                                     ("POST", f"/admin/api/broadcasts/{bid}/cancel", 200),
                                     ("POST", f"/admin/api/broadcasts/{bid}/send", 409)]
    assert all(t[3].startswith("token:") and TOKEN not in t[3] for t in trail)


def test_send_is_queued_for_the_worker(admin, fake_api):
    created = call(admin, "POST", "/broadcasts", json={"name": "x", "audience": {"all": True}, "text": "hi"})
    bid = created.json["id"]
    assert call(admin, "POST", f"/broadcasts/{bid}/send", json={"at": "not a time"}).json["field"] == "at"
    past = call(admin, "POST", f"/broadcasts/{bid}/send", json={"at": "2020-01-01T10:00"})
    assert past.status_code == 400 and past.json == {"error": "2020-01-01 10:00 KST has passed; to send now, leave out "
                                                              "the time", "field": "at"}
    queued = call(admin, "POST", f"/broadcasts/{bid}/send")
    assert queued.status_code == 202
    ext = admin.extensions["yjy"]
    if not ext.config.embedded_redis:  # real Redis: run the RQ worker the job waits for
        from bot.infra.queue import BurstWorker

        with admin.app_context():
            BurstWorker([ext.queue], connection=ext.redis).work(burst=True)
    shown = call(admin, "GET", f"/broadcasts/{bid}").json
    assert shown["status"] == "sent"
    assert shown["results"] == {"batches": 1, "batches_sent": 1, "batches_reported": 0, "total": 0, "delivered": 0,
                                "failed": 0, "filtered_out": 0}  # until WeChat's MASSSENDJOBFINISH arrives
    assert call(admin, "GET", "/broadcasts").json[0]["results"] == shown["results"]
    assert len(fake_api.mass_sends()) == 1


def test_preview_sends_a_news_spec_to_test_openids(admin, fake_api):
    spec = {"name": "冬日", "audience": {"all": True}, "news": [{"attraction": "gyeongbokgung"}]}
    bad = call(admin, "POST", "/broadcasts/preview", json={**spec, "to": []})
    assert bad.status_code == 400 and bad.json["field"] == "to"
    unknown = call(admin, "POST", "/broadcasts/preview", json={**spec, "news": [{"product": "x"}], "to": ["o-m"]})
    assert unknown.status_code == 400 and unknown.json == {"error": "no product 'x' in content/", "field": "news.0"}
    ok = call(admin, "POST", "/broadcasts/preview", json={**spec, "to": ["o-marketer"]})
    assert ok.status_code == 200 and ok.json == {"sent": 1, "refused": []}
    (preview,) = fake_api.calls_to("message/mass/preview")
    assert preview.body["msgtype"] == "mpnews" and preview.body["touser"] == "o-marketer"
    with admin.extensions["yjy"].db.session() as s:
        rows = [(a.path, a.status, a.detail) for a in s.scalars(select(AdminAudit).order_by(AdminAudit.id))]
    assert rows[-1] == ("/admin/api/broadcasts/preview", 200, {"to": 1, "refused": []})


def test_api_errors_are_json_with_a_reason_never_html(admin, tmp_path):
    unknown = call(admin, "GET", "/nothing-here")
    assert unknown.status_code == 404 and unknown.is_json and "not found" in unknown.json["error"]
    wrong_method = call(admin, "DELETE", "/broadcasts")
    assert wrong_method.status_code == 405 and wrong_method.is_json
    assert admin.test_client().get("/no-such-page").content_type.startswith("text/html")  # phones get the page

    from bot.infra.db import Database

    ext = admin.extensions["yjy"]
    ext.services.db = Database(f"sqlite:///{tmp_path}/empty.sqlite3")  # a database without our tables
    down = call(admin, "GET", "/broadcasts")
    assert down.status_code == 503 and down.is_json
    assert down.json["error"].startswith("the database or the job queue did not answer")
    assert "Traceback" not in down.get_data(as_text=True)
