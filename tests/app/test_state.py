"""StateStore contract: the same tests against fakeredis (embedded) and a real Redis server."""

from __future__ import annotations

import threading

import pytest

from bot.conversation.state import RedisStateStore
from bot.infra.keys import Keys
from bot.infra.redis_conn import connect


@pytest.fixture(params=["fakeredis", pytest.param("redis", marks=pytest.mark.servers)])
def store(request):  # type: ignore[no-untyped-def]
    if request.param == "redis":
        client = request.getfixturevalue("real_redis")
    else:
        client = connect(f"memory://state-{id(request)}", 0.5)
        client.flushall()
    return RedisStateStore(client, Keys("wxtest"), state_ttl=1800, dedup_ttl=300)


def test_first_claim_wins_and_retries_see_the_cached_reply(store):
    first = store.claim("m:1:u:100", "u")
    assert first.first and first.state == {} and first.rev == 0
    retry = store.claim("m:1:u:100", "u")
    assert not retry.first and retry.cached_reply is None  # still running
    assert store.finish("m:1:u:100", "u", {"flow": "x"}, first.rev, "<xml>reply</xml>")
    again = store.claim("m:1:u:100", "u")
    assert not again.first and again.cached_reply == "<xml>reply</xml>"
    assert again.state["flow"] == "x" and again.rev == 1


def test_state_has_a_sliding_ttl_and_none_deletes_it(store):
    claim = store.claim("m:2:u:1", "u")
    store.finish("m:2:u:1", "u", {"step": "a"}, claim.rev, "r")
    ttl = store.r.ttl(store.keys.state("u"))
    assert 1700 < ttl <= 1800
    dedup_ttl = store.r.ttl(store.keys.dedup("m:2:u:1"))
    assert 200 < dedup_ttl <= 300
    claim = store.claim("m:3:u:2", "u")
    assert claim.state["step"] == "a"
    store.finish("m:3:u:2", "u", None, claim.rev, "r")
    assert store.load("u") == {}


def test_concurrent_update_is_detected_not_overwritten(store):
    a = store.claim("m:4:u:1", "u")
    b = store.claim("m:5:u:1", "u")  # a second message of the same user, read the same revision
    assert store.finish("m:4:u:1", "u", {"who": "a"}, a.rev, "ra")
    assert not store.finish("m:5:u:1", "u", {"who": "b"}, b.rev, "rb")
    assert store.load("u")["who"] == "a"
    # The losing message's reply is still cached for its retries.
    assert store.claim("m:5:u:1", "u").cached_reply == "rb"


def test_parallel_claims_of_one_delivery_have_one_winner(store):
    results = []
    barrier = threading.Barrier(8)

    def claim() -> None:
        barrier.wait()
        results.append(store.claim("m:6:u:1", "u").first)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1


def test_mark_late_makes_retries_answer_success(store):
    store.claim("m:7:u:1", "u")
    store.mark_late("m:7:u:1")
    retry = store.claim("m:7:u:1", "u")
    assert not retry.first and retry.cached_reply is None


def test_unreadable_state_is_dropped_not_fatal(store):
    store.r.set(store.keys.state("u"), b"{not json")
    claim = store.claim("m:8:u:1", "u")
    assert claim.first and claim.state == {}
    assert store.finish("m:8:u:1", "u", {"ok": 1}, claim.rev, "r")


def test_a_conflict_can_leave_the_reply_uncached_for_a_retry_on_the_new_state(store):
    a = store.claim("m:9:u:1", "u")
    b = store.claim("m:9:u:2", "u")
    assert store.finish("m:9:u:1", "u", {"added": ["1"]}, a.rev, "noted 1")
    assert not store.finish("m:9:u:2", "u", {"added": ["2"]}, b.rev, "noted 2", cache_on_conflict=False)
    assert store.claim("m:9:u:2", "u").cached_reply is None  # nothing promised yet: the pipeline answers again
    fresh = store.load("u")
    assert store.finish("m:9:u:2", "u", {**fresh, "added": [*fresh["added"], "2"]}, int(fresh["rev"]), "noted 2")
    assert store.load("u")["added"] == ["1", "2"] and store.claim("m:9:u:2", "u").cached_reply == "noted 2"
    store.cache_reply("m:9:u:3", "please resend")
    assert store.claim("m:9:u:3", "u").cached_reply == "please resend"


def test_an_insight_event_rides_with_the_saved_state_once_and_the_list_is_capped(store, monkeypatch):
    events = store.keys.insight_events()
    a = store.claim("m:10:u:1", "u")
    b = store.claim("m:10:u:2", "u")
    assert store.finish("m:10:u:1", "u", {"n": 1}, a.rev, "ra", event='{"e":1}')
    # A lost compare-and-set the caller answers again: not counted now (it is, once, when it is saved) ...
    assert not store.finish("m:10:u:2", "u", {"n": 2}, b.rev, "rb", cache_on_conflict=False, event='{"e":2}')
    assert store.r.lrange(events, 0, -1) == [b'{"e":1}']
    # ... one whose reply is cached anyway was answered: counted.
    assert not store.finish("m:10:u:2", "u", {"n": 2}, b.rev, "rb", event='{"e":2}')
    assert store.finish("m:10:u:3", "u", None, store.load("u")["rev"], "rc")  # no event: nothing appended
    assert store.r.lrange(events, 0, -1) == [b'{"e":1}', b'{"e":2}']

    monkeypatch.setattr("bot.conversation.state.EVENTS_CAP", 3)  # without a worker, the oldest go first
    for n in range(3, 6):
        assert store.finish(f"m:11:u:{n}", "u", {"n": n}, store.load("u").get("rev", 0), "r", event=f'{{"e":{n}}}')
    assert store.r.lrange(events, 0, -1) == [b'{"e":3}', b'{"e":4}', b'{"e":5}']
