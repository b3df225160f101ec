"""The WeChat API client against the fake WeChat API over real HTTP: one token shared by all workers."""
from __future__ import annotations

import threading

import pytest
from wechatpy.exceptions import WeChatClientException

from bot.infra.keys import Keys
from bot.infra.redis_conn import connect
from bot.wechat.client import SharedTokenClient
from bot.wechat.gateway import WeChatGateway


@pytest.fixture(params=["fakeredis", pytest.param("redis", marks=pytest.mark.servers)])
def shared_redis(request):  # type: ignore[no-untyped-def]
    if request.param == "redis":
        return request.getfixturevalue("real_redis")
    client = connect(f"memory://api-{id(request)}", 0.5)
    client.flushall()
    return client


@pytest.fixture
def make_client(shared_redis, fake_api):  # type: ignore[no-untyped-def]
    fake_api.reset()

    def make() -> SharedTokenClient:
        return SharedTokenClient("wxapi", "secret", fake_api.base_url, shared_redis, Keys("wxapi"))
    yield make
    fake_api.reset()


def test_token_is_fetched_once_and_shared_across_clients(make_client, fake_api):
    workers = [make_client() for _ in range(6)]  # as if in six worker processes
    barrier = threading.Barrier(len(workers))
    errors: list[Exception] = []

    def call(client: SharedTokenClient) -> None:
        barrier.wait()
        try:
            WeChatGateway(client).send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "hi"}})
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(w,)) for w in workers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    tokens = fake_api.calls_to("stable_token")
    assert len(tokens) == 1
    assert tokens[0].body == {"grant_type": "client_credential", "appid": "wxapi", "secret": "secret",
                              "force_refresh": False}
    sends = fake_api.calls_to("message/custom/send")
    assert len(sends) == 6 and len({c.query["access_token"] for c in sends}) == 1


def test_invalid_token_is_refreshed_once_and_the_call_retried(make_client, fake_api, shared_redis):
    client = make_client()
    WeChatGateway(client).send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "1"}})
    fake_api.expire_token()  # WeChat now answers 40001 for the cached token
    WeChatGateway(client).send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "2"}})
    assert len(fake_api.calls_to("stable_token")) == 2
    sends = fake_api.calls_to("message/custom/send")
    assert [c.body["text"]["content"] for c in sends] == ["1", "2", "2"]
    assert sends[1].query["access_token"] != sends[2].query["access_token"]


def test_a_stale_failure_does_not_discard_a_fresher_token(make_client, fake_api, shared_redis):
    slow, fresh = make_client(), make_client()
    old = slow.access_token
    fake_api.expire_token()
    shared_redis.delete(Keys("wxapi").access_token())
    new = fresh.access_token  # another worker already refreshed
    assert new != old
    # The slow worker's call with the old token fails: it must only expire *its* token.
    slow._expire_if_same(keys=[Keys("wxapi").access_token()], args=[old])
    assert shared_redis.get(Keys("wxapi").access_token()).decode() == new


def test_other_errors_are_raised_with_their_code(make_client, fake_api):
    client = make_client()
    fake_api.fail("message/custom/send", errcode=45015)
    with pytest.raises(WeChatClientException) as info:
        WeChatGateway(client).send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "x"}})
    assert info.value.errcode == 45015
    fake_api.fail("message/custom/send", status=502)
    with pytest.raises(WeChatClientException):
        WeChatGateway(client).send_custom({"touser": "o1", "msgtype": "text", "text": {"content": "x"}})


def test_token_endpoint_failure_is_a_clear_error(make_client, fake_api):
    fake_api.fail("stable_token", errcode=40013)
    with pytest.raises(WeChatClientException) as info:
        make_client().access_token  # noqa: B018
    assert info.value.errcode == 40013
