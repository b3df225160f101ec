"""The mobile pages cards link to."""
from __future__ import annotations

from datetime import datetime

from bot.infra.clock import SEOUL, Clock


def test_attraction_page_in_chinese(app):
    app.extensions["yjy"].services.clock = Clock(datetime(2026, 5, 1, 10, 0, tzinfo=SEOUL))
    response = app.test_client().get("/p/attractions/gyeongbokgung")
    assert response.status_code == 200 and response.mimetype == "text/html"
    html = response.data.decode()
    assert '<html lang="zh-CN">' in html and "景福宫" in html and "营业中" in html
    assert "3号线" in html and "开放时间" in html and "门票" in html
    assert "https://uri.amap.com/marker?position=126.9768,37.5799" in html
    assert "openstreetmap.org/?mlat=37.5799&amp;mlon=126.9768" in html
    assert "<script" not in html  # light on slow roaming data
    assert len(response.data) < 20_000
    assert "max-age" in response.headers["Cache-Control"]


def test_attraction_page_in_english(app):
    html = app.test_client().get("/p/attractions/gyeongbokgung?lang=en").data.decode()
    assert '<html lang="en">' in html and "Gyeongbokgung Palace" in html and "Hours" in html
    assert "开放时间" not in html


def test_unknown_language_falls_back_to_chinese(app):
    html = app.test_client().get("/p/attractions/gyeongbokgung?lang=xx").data.decode()
    assert '<html lang="zh-CN">' in html


def test_unknown_place_and_unknown_path_get_a_friendly_404(app):
    for path in ("/p/attractions/no_such_place", "/p/attractions/<script>", "/nowhere"):
        response = app.test_client().get(path)
        assert response.status_code == 404
        html = response.data.decode()
        assert "页面走丢了" in html and "<script>" not in html.split("<title>")[1]
