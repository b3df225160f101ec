"""Channels through the admin API: list, create (WeChat's QR-code API, once), the report as JSON and CSV."""
from __future__ import annotations

import csv
import io
import time

import pytest
from sqlalchemy import select

from bot.devtools import sender as build
from bot.infra.db.models import AdminAudit

TOKEN = "marketing-token-0123456789"


@pytest.fixture
def admin(app_factory):  # type: ignore[no-untyped-def]
    return app_factory(admin__tokens=[TOKEN])


def call(app, method: str, path: str, token: str | None = TOKEN, **kwargs):  # type: ignore[no-untyped-def]
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return app.test_client().open(f"/admin/api{path}", method=method, headers=headers, **kwargs)


def test_create_once_then_list(admin, fake_api):
    made = call(admin, "POST", "/channels", json={"id": "kol_hallyu_01", "name": "韩流KOL 01"})
    assert made.status_code == 201 and made.json["new"] is True
    assert made.json["image_url"].startswith("https://mp.weixin.qq.com/cgi-bin/showqrcode?ticket=")
    again = call(admin, "POST", "/channels", json={"id": "kol_hallyu_01", "name": "other"})
    assert again.status_code == 200 and again.json["new"] is False and again.json["name"] == "韩流KOL 01"
    assert len(fake_api.calls_to("qrcode/create")) == 1
    assert [c["id"] for c in call(admin, "GET", "/channels").json] == ["kol_hallyu_01"]
    with admin.extensions["yjy"].db.session() as s:
        audited = s.scalars(select(AdminAudit.path).where(AdminAudit.method == "POST")).all()
    assert audited == ["/admin/api/channels", "/admin/api/channels"]


@pytest.mark.parametrize("body,field", [
    ({"name": "x"}, "id"),
    ({"id": "has space"}, "id"),
    ({"id": "ok_id", "name": 5}, "name"),
    ({"id": "ok_id", "name": "n" * 121}, "name"),
])
def test_bad_channels_are_refused_naming_the_field(admin, fake_api, body, field):
    response = call(admin, "POST", "/channels", json=body)
    assert response.status_code == 400 and response.json["field"] == field
    assert fake_api.calls_to("qrcode/create") == []


def test_wechat_refusing_the_qr_code_is_a_502_with_its_code(admin, fake_api):
    fake_api.fail("qrcode/create", errcode=48001)
    response = call(admin, "POST", "/channels", json={"id": "kol_x"})
    assert response.status_code == 502 and "48001" in response.json["error"]
    assert call(admin, "GET", "/channels").json == []


def test_report_as_json_and_csv(admin, wechat, openid):
    call(admin, "POST", "/channels", json={"id": "kol_a", "name": "=HYPERLINK(\"x\")"})
    wechat.reply(build.event(openid, "subscribe", "qrscene_kol_a", create_time=int(time.time()) - 5))
    today = admin.extensions["yjy"].clock.now().date().isoformat()
    found = call(admin, "GET", f"/channels/report?from={today}&to={today}")
    assert found.status_code == 200
    line = next(c for c in found.json["channels"] if c["id"] == "kol_a")
    assert (line["scans"], line["follows"], line["bookings"]) == (1, 1, 0)
    sheet = call(admin, "GET", f"/channels/report?from={today}&to={today}&format=csv")
    assert sheet.mimetype == "text/csv" and "attachment" in sheet.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(sheet.get_data(as_text=True))))
    assert rows[0][:4] == ["channel", "name", "scans", "follows"]
    assert rows[1][:4] == ["kol_a", "'=HYPERLINK(\"x\")", "1", "1"]  # a formula stays text


@pytest.mark.parametrize("query,field", [
    ("", "from"), ("from=2026-12-01", "to"), ("from=2026-12-01&to=yesterday", "to"),
    ("from=2026-12-07&to=2026-12-01", "to"), ("from=2025-01-01&to=2026-12-01", "to"),
])
def test_report_periods_are_checked(admin, query, field):
    response = call(admin, "GET", f"/channels/report?{query}")
    assert response.status_code == 400 and response.json["field"] == field


def test_channels_need_a_token(admin):
    assert call(admin, "GET", "/channels", token=None).status_code == 401
    assert call(admin, "GET", "/channels/report?from=2026-12-01&to=2026-12-01", token="wrong").status_code == 401
