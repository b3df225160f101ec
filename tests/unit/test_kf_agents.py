"""Which kf agent can take a traveler, from getonlinekflist items (status, auto_accept, accepted_case)."""
from __future__ import annotations

from bot.wechat.kf_agents import pick_agent


def agent(account: str, status: int = 1, auto_accept: int = 0, accepted_case: int = 0) -> dict:
    return {"kf_account": account, "status": status, "kf_id": "1", "auto_accept": auto_accept,
            "accepted_case": accepted_case}


def test_nobody_online_is_nobody():
    assert not pick_agent([]).available and not pick_agent([agent("a", status=0)]).available


def test_the_agent_with_most_room_is_aimed_at():
    pick = pick_agent([agent("a", auto_accept=3, accepted_case=2), agent("b", auto_accept=6, accepted_case=1)])
    assert pick.available and pick.account == "b"


def test_full_agents_are_not_chosen_and_all_full_is_unavailable():
    assert pick_agent([agent("a", auto_accept=2, accepted_case=2), agent("b", auto_accept=1, accepted_case=5)]) \
        .available is False
    pick = pick_agent([agent("a", auto_accept=2, accepted_case=2), agent("b", auto_accept=3, accepted_case=1)])
    assert pick.account == "b" and pick.full == 1


def test_an_agent_picking_from_the_queue_takes_transfers_without_a_target():
    """auto_accept 0 (WeChat's own example): sessions wait in the queue until the agent takes them."""
    pick = pick_agent([agent("a", auto_accept=0, accepted_case=1)])
    assert pick.available and pick.account is None


def test_odd_values_count_as_nothing():
    assert not pick_agent([{"kf_account": "a", "status": "x"}]).available
