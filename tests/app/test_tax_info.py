"""Tax refund band edges and estimates; info cards and their pages."""

from __future__ import annotations


def test_info_and_tax_pages(app):
    client = app.test_client()
    html = client.get("/p/info/visa").data.decode()
    assert "签证" in html and "2026年6月30日" in html and "信息来源" in html and "最后核对" in html
    tax = client.get("/p/info/tax_refund").data.decode()
    assert "1,500" in tax and "暂无公开数据" in tax
    assert client.get("/p/info/tax_refund?lang=en").data.decode().count("not published") >= 1
    assert client.get("/p/info/nothing_here").status_code == 404
