"""News broadcasts composed from content/: articles rendered, thumbnails and articles uploaded to the fake
WeChat API over real HTTP, and sent as mpnews, on both back-ends."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert, select, text

from bot.broadcasts import planning as broadcasts
from bot.broadcasts.service import broadcast_service
from bot.infra.db.models import AdminAudit, Broadcast, Follower, WeChatMedia

NOW = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)

SPEC = {"name": "冬日首尔", "audience": {"all": True},
        "news": [{"attraction": "gyeongbokgung"}, {"product": "nanta_show"}, {"campaign": "kol_hallyu_10"}]}


@pytest.fixture
def ext(app):  # type: ignore[no-untyped-def]
    e = app.extensions["yjy"]
    with e.db.session() as s:
        for table in ("broadcast_batches", "broadcasts", "followers", "mass_receipts", "wechat_media", "admin_audit"):
            s.execute(text(f"DELETE FROM {table}"))
    return e


def seed(ext, languages: list[str]) -> None:  # type: ignore[no-untyped-def]
    with ext.db.session() as s:
        s.execute(insert(Follower), [dict(openid=f"o{i:06d}", subscribed=True, language=lang, tags=[],
                                          created_at=NOW, last_active_at=NOW) for i, lang in enumerate(languages)])


def send(ext, spec):  # type: ignore[no-untyped-def]
    name, spec, segment = broadcasts.validate_spec(spec, ext.content)
    plan = broadcasts.create(ext.db, name, spec, segment, "tester", NOW)
    report = broadcast_service(ext).send_now(plan.broadcast_id, sleep=lambda s: None)
    return plan, report


def test_articles_are_built_from_content_uploaded_and_sent_as_mpnews(ext, fake_api):
    seed(ext, ["zh-CN", "zh-CN", "zh-CN"])
    plan, report = send(ext, SPEC)
    assert report.status == "sent", report.error

    (thumb,) = fake_api.calls_to("material/add_material")  # one default thumbnail for all three
    assert thumb.query["type"] == "thumb"
    (upload,) = fake_api.calls_to("media/uploadnews")
    palace, nanta, campaign = upload.body["articles"]
    assert palace["title"] == "景福宫｜Gyeongbokgung Palace"
    assert "<strong>🎫 门票</strong>" in palace["content"] and "周二" in palace["content"]
    assert palace["content_source_url"] == "https://yjy.example.com/p/attractions/gyeongbokgung"
    assert nanta["title"] == "明洞乱打秀门票 · ₩55,000起"
    assert nanta["content_source_url"] == "https://yjy.example.com/p/products/nanta_show"
    assert campaign["title"] == "韩流达人专享 9 折" and "9 折" in campaign["content"]
    assert "回复「韩流达人」领取" in campaign["digest"] and "乱打秀" in campaign["content"]
    assert {a["thumb_media_id"] for a in upload.body["articles"]} == {thumb.response["media_id"]}
    assert all(a["author"] == "一机游首尔" for a in upload.body["articles"])

    (mass,) = fake_api.mass_sends()
    assert mass.body["msgtype"] == "mpnews" and mass.body["mpnews"]["media_id"] == upload.response["media_id"]
    assert mass.body["filter"] == {"is_to_all": True}


def test_article_html_escapes_content_values(ext):
    place = ext.content.places.get("gyeongbokgung")
    hostile = type(place)(**{**place.__dict__, "summary": {"zh-CN": "<script>alert(1)</script> & 更多"}})
    article = ext.cards.article("attraction", "zh-CN", place=hostile, url="https://x")
    assert "<script>" not in article["content"] and "&lt;script&gt;" in article["content"]
    assert article["digest"] == "<script>alert(1)</script> & 更多"  # plain text in JSON, shown as text


def test_thumbnail_and_articles_are_uploaded_once_across_preview_send_and_resume(ext, fake_api):
    seed(ext, ["zh-CN", "zh-CN"])
    _name, spec, _segment = broadcasts.validate_spec(SPEC, ext.content)
    assert broadcast_service(ext).preview(spec, ["o-marketer"]) == []
    (preview,) = fake_api.calls_to("message/mass/preview")
    assert preview.body["msgtype"] == "mpnews" and preview.body["touser"] == "o-marketer"
    send(ext, SPEC)
    assert len(fake_api.calls_to("material/add_material")) == 1
    assert len(fake_api.calls_to("media/uploadnews")) == 1
    assert fake_api.mass_sends()[0].body["mpnews"]["media_id"] == preview.body["mpnews"]["media_id"]
    with ext.db.session() as s:
        assert s.scalar(select(WeChatMedia.name)) == "default.jpg"


def test_a_thumbnail_deleted_on_wechat_is_uploaded_again(ext, fake_api):
    seed(ext, ["zh-CN", "zh-CN"])
    send(ext, SPEC)
    fake_api.media.clear()  # someone deleted our materials in the MP admin
    plan, report = send(ext, {**SPEC, "news": [{"product": "nanta_show"}]})
    assert report.status == "sent", report.error
    assert len(fake_api.calls_to("material/add_material")) == 2
    uploads = fake_api.calls_to("media/uploadnews")
    assert [u.response.get("errcode", 0) for u in uploads] == [0, 40007, 0]


def test_news_in_each_followers_language(ext, fake_api):
    seed(ext, ["zh-CN", "en", "ja", "en"])
    plan, report = send(ext, {**SPEC, "news": [{"attraction": "gyeongbokgung"}], "languages": ["zh-CN", "en"]})
    assert report.status == "sent" and plan.mode == "openids"
    titles = {c.response["media_id"]: c.body["articles"][0]["title"] for c in fake_api.calls_to("media/uploadnews")}
    sent = {titles[c.body["mpnews"]["media_id"]]: sorted(c.body["touser"]) for c in fake_api.mass_sends()}
    assert sent == {"景福宫｜Gyeongbokgung Palace": ["o000000", "o000002"], "Gyeongbokgung Palace": ["o000001", "o000003"]}


def test_an_upload_failure_stops_the_broadcast_and_a_resume_sends_it(ext, fake_api):
    seed(ext, ["zh-CN", "zh-CN"])
    fake_api.fail("media/uploadnews", status=502)
    plan, report = send(ext, SPEC)
    assert report.status == "stopped" and "could not compose the message" in report.error
    assert fake_api.mass_sends() == []
    with ext.db.session() as s:
        assert s.get(Broadcast, plan.broadcast_id).status == "stopped"
    again = broadcast_service(ext).send_now(plan.broadcast_id, sleep=lambda s: None)
    assert again.status == "sent" and len(fake_api.mass_sends()) == 1


@pytest.mark.parametrize("news,field,message", [
    ([], "news", "expected 1 to 8 articles"),
    ([{"attraction": "gyeongbokgung"}] * 9, "news", "expected 1 to 8 articles"),
    ([{"palace": "x"}], "news.0", "expected exactly one of attraction, product, campaign"),
    ([{"attraction": "a", "product": "b"}], "news.0", "expected exactly one of"),
    ([{"attraction": "gyeongbokgung", "colour": "red"}], "news.0.colour", "unknown field"),
    ([{"attraction": "gyeongbokgung"}, {"attraction": "atlantis"}], "news.1", "no attraction 'atlantis'"),
    ([{"product": "moon_trip"}], "news.0", "no product 'moon_trip'"),
    ([{"campaign": "gyeongbokgung"}], "news.0", "no campaign 'gyeongbokgung'"),
    ([{"attraction": "gyeongbokgung", "thumb": "../../etc/passwd"}], "news.0.thumb", "a JPEG in content/images/"),
    ([{"attraction": "gyeongbokgung", "thumb": "missing.jpg"}], "news.0", "thumbnail missing.jpg not found"),
])
def test_bad_news_specs_name_the_field(ext, news, field, message):
    with pytest.raises(broadcasts.SpecError) as exc:
        broadcasts.validate_spec({**SPEC, "news": news}, ext.content)
    assert exc.value.field == field and message in exc.value.message


def test_cli_preview_and_send_a_news_file(ext, app, fake_api, tmp_path):
    seed(ext, ["zh-CN", "zh-CN"])
    spec = tmp_path / "news.yaml"
    spec.write_text("name: 景福宫冬日\naudience: {language: zh-CN}\nnews:\n  - attraction: gyeongbokgung\n"
                    "  - attraction: atlantis\n")
    runner = app.test_cli_runner()
    bad = runner.invoke(args=["broadcast", "create", str(spec)])
    assert bad.exit_code != 0 and "news.yaml, line 5" in bad.output and "no attraction 'atlantis'" in bad.output
    spec.write_text("name: 景福宫冬日\naudience: {language: zh-CN}\nnews:\n  - attraction: gyeongbokgung\n")
    out = runner.invoke(args=["broadcast", "preview", str(spec), "--to", "o-marketer"])
    assert out.exit_code == 0 and "preview sent to 1 of 1" in out.output, out.output
    created = runner.invoke(args=["broadcast", "create", str(spec), "--by", "mei"])
    bid = int(created.output.split()[1])
    sent = runner.invoke(args=["broadcast", "send", str(bid), "--now"])
    assert sent.exit_code == 0 and "sent: 1 batch sent" in sent.output, sent.output
    assert fake_api.mass_sends()[0].body["msgtype"] == "mpnews"
    with ext.db.session() as s:
        audit = [(a.actor, a.method, a.path, a.status) for a in s.scalars(select(AdminAudit).order_by(AdminAudit.id))]
    me = audit[0][0]  # the operating-system user
    assert audit == [(me, "CLI", "broadcast create news.yaml", 1),  # the refused file is audited too
                     (me, "CLI", "broadcast preview news.yaml --to o-marketer", 0),
                     ("cli:mei", "CLI", "broadcast create news.yaml", 0),
                     (me, "CLI", f"broadcast send {bid} --now", 0)]
    assert me.startswith("cli:") and me != "cli:mei"

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "content" / "broadcasts").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_example_broadcast_files_are_valid_and_their_reply_words_answer(ext, path):
    _name, spec, _segment = broadcasts.load_spec(path, ext.content)  # ids and thumbnails exist in content/
    texts = spec["text"].values() if isinstance(spec.get("text"), dict) else [spec.get("text") or ""]
    # "回复「X」" in a broadcast is a promise: X must reach a handler of its own, not the fallback
    for word in (w for t in texts for pair in re.findall(r"回复「([^」]+)」|reply \"([^\"]+)\"", t) for w in pair if w):
        match = ext.dispatcher.understander.understand(word)
        assert match and ("intent", match.intent) in ext.dispatcher.table, f"{path.name}: {word!r} is not understood"
