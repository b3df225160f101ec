"""Broadcast planning: segments over followers and the audience frozen into batches."""

from __future__ import annotations

import pytest

from bot.broadcasts.planning import PlanError, batches
from bot.broadcasts.segments import SegmentError, parse_segment


@pytest.mark.parametrize("n,sizes", [
    (2, [2]), (3, [3]), (10_000, [10_000]), (10_001, [9_999, 2]), (10_002, [10_000, 2]),
    (20_000, [10_000, 10_000]), (20_001, [10_000, 9_999, 2]),
])
def test_batches_are_2_to_10000_openids_each(n, sizes):
    chunks = list(batches(f"o{i}" for i in range(n)))
    assert [len(c) for c in chunks] == sizes
    assert [o for c in chunks for o in c] == [f"o{i}" for i in range(n)]  # all, once, in order


def test_a_single_recipient_is_refused_with_the_reason():
    with pytest.raises(PlanError, match="at least 2"):
        list(batches(["o1"]))
    assert list(batches([])) == []


@pytest.mark.parametrize("raw,field", [
    ({}, "audience"),
    ({"colour": "red"}, "audience.colour"),
    ({"all": True, "tag": 1}, "audience.all"),
    ({"all": "yes"}, "audience.all"),
    ({"tag": "vip"}, "audience.tag"),
    ({"active_days": 0}, "audience.active_days"),
    ({"channel": [1, 2]}, "audience.channel"),
    ({"openids": []}, "audience.openids"),
])
def test_segment_errors_name_the_field(raw, field):
    with pytest.raises(SegmentError) as info:
        parse_segment(raw)
    assert info.value.field == field


def test_send_mode_follows_the_audience():
    assert parse_segment({"all": True}).mode == "all"
    assert parse_segment({"tag": 7}).mode == "tag"
    assert parse_segment({"tag": 7, "language": "en"}).mode == "openids"
    assert parse_segment({"channel": "kol_1"}).mode == "openids"
