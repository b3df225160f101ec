"""The booking draft's rules as plain unit tests: no app, no Redis, no database.

The catalogue is the shipped content/products.yaml; the clock is a Wednesday morning in Seoul.
"""
from __future__ import annotations

import json
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from bot.bookings.draft import Ask, BookingDraft, Facts, Problem, Step, answers
from bot.bookings.parsing import Party
from bot.infra import yamlfile
from bot.infra.clock import SEOUL
from bot.travel.products import Catalogue, Product, load_catalogue

CONTENT = Path(__file__).resolve().parents[2] / "content"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=SEOUL)  # a Wednesday
SATURDAY, SUNDAY, MONDAY = date(2026, 11, 28), date(2026, 11, 29), date(2026, 11, 30)


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    categories = set(yamlfile.load(CONTENT / "categories.yaml").data["categories"])
    places = {place["id"] for place in yamlfile.load(CONTENT / "attractions.yaml").data["places"]}
    return load_catalogue(CONTENT / "products.yaml", places, categories)


def facts(catalogue: Catalogue, now: datetime = NOW, seats: int = 100, group_min_party: int = 10) -> Facts:
    return Facts(catalogue=catalogue, now=now, group_min_party=group_min_party,
                 seats_left=lambda product, day, slot: seats)


def product(catalogue: Catalogue, product_id: str) -> Product:
    found = catalogue.get(product_id)
    assert found is not None, product_id
    return found


def ready(**changes: object) -> BookingDraft:
    """A draft with every answer given: 乱打秀 on Saturday at 20:00 for two, 张伟."""
    draft = BookingDraft(flow_key="flow-1", product_id="nanta_show", day=SATURDAY, slot="20:00", adults=2,
                         name="张伟", phone="+8613812345678")
    return replace(draft, **changes)


# --- steps ----------------------------------------------------------------------------------------
def test_step_values_are_the_strings_the_state_has_always_stored():
    assert [s.value for s in Step] == ["product", "date", "slot", "party", "name", "phone", "confirm"]
    assert Step.parse("slot") is Step.SLOT and Step.parse("ask_date") is None and Step.parse(None) is None


def test_the_next_step_is_the_first_answer_missing(catalogue):
    f = facts(catalogue)
    draft = BookingDraft(flow_key="k")
    assert draft.next_step(f) is Step.PRODUCT
    draft.product_id = "nanta_show"
    assert draft.next_step(f) is Step.DATE
    draft.day = SATURDAY
    assert draft.next_step(f) is Step.SLOT
    draft.slot = "20:00"
    assert draft.next_step(f) is Step.PARTY
    draft.adults = 2
    assert draft.next_step(f) is Step.NAME
    draft.name = "张伟"
    assert draft.next_step(f) is Step.PHONE
    draft.phone = "+8613812345678"
    assert draft.next_step(f) is Step.CONFIRM


def test_a_product_with_one_start_time_that_day_skips_the_time_question(catalogue):
    draft = BookingDraft(flow_key="k", product_id="n_seoul_tower", day=SATURDAY)
    assert draft.next_step(facts(catalogue)) is Step.PARTY and draft.slot == "10:00"


def test_a_retired_product_means_choosing_again(catalogue):
    draft = BookingDraft(flow_key="k", product_id="retired_tour", day=SATURDAY)
    assert draft.answer(Step.DATE, "周日", facts(catalogue)) == Ask(Step.PRODUCT, Problem.PRODUCT_GONE)
    assert draft.product_id is None


def test_the_product_is_picked_by_number_or_by_name(catalogue):
    f = facts(catalogue)
    second = list(catalogue)[1]
    by_number = BookingDraft(flow_key="k")
    assert by_number.answer(Step.PRODUCT, "2", f, pick=2).step is Step.DATE and by_number.product_id == second.id
    by_name = BookingDraft(flow_key="k")
    assert by_name.answer(Step.PRODUCT, "乱打秀", f).step is Step.DATE and by_name.product_id == "nanta_show"
    assert BookingDraft(flow_key="k").answer(Step.PRODUCT, "随便", f) == Ask(Step.PRODUCT, Problem.PRODUCT)


# --- dates ----------------------------------------------------------------------------------------
def test_a_past_day_is_refused_and_remembered_to_say_which(catalogue):
    draft = BookingDraft(flow_key="k", product_id="nanta_show")
    assert draft.set_day(date(2026, 11, 20), product(catalogue, "nanta_show"), facts(catalogue)) is Problem.DATE_PAST
    assert draft.day is None and draft.rejected_day == date(2026, 11, 20)


def test_a_month_and_day_just_gone_means_this_year_not_next(catalogue):
    """"11月20日" on 25 November parses as next year's; the traveler means five days ago."""
    draft = BookingDraft(flow_key="k", product_id="nanta_show")
    answer = draft.answer(Step.DATE, "11月20日", facts(catalogue))
    assert answer == Ask(Step.DATE, Problem.DATE_PAST) and draft.rejected_day == date(2026, 11, 20)


def test_29_february_a_year_ahead_does_not_crash_the_last_year_rule(catalogue):
    now = datetime(2027, 3, 5, 10, 0, tzinfo=SEOUL)
    draft = BookingDraft(flow_key="k", product_id="nanta_show")
    assert draft.set_day(date(2028, 2, 29), product(catalogue, "nanta_show"), facts(catalogue, now)) is Problem.DATE_FAR


def test_the_horizon_is_180_days(catalogue):
    nanta, f = product(catalogue, "nanta_show"), facts(catalogue)
    draft = BookingDraft(flow_key="k", product_id="nanta_show")
    assert draft.set_day(NOW.date() + timedelta(days=181), nanta, f) is Problem.DATE_FAR
    assert draft.set_day(NOW.date() + timedelta(days=180), nanta, f) is None


def test_a_day_the_product_does_not_run_is_refused(catalogue):
    draft = BookingDraft(flow_key="k", product_id="dmz_tour")  # no tours on Mondays
    assert draft.set_day(MONDAY, product(catalogue, "dmz_tour"), facts(catalogue)) is Problem.DATE_CLOSED
    assert draft.rejected_day == MONDAY and draft.day is None


def test_lead_time_refuses_a_day_with_no_start_time_left_and_trims_the_times(catalogue):
    dmz, f = product(catalogue, "dmz_tour"), facts(catalogue)  # 48 hours ahead; 07:30 and 12:30
    draft = BookingDraft(flow_key="k", product_id="dmz_tour")
    assert draft.set_day(date(2026, 11, 26), dmz, f) is Problem.DATE_LEAD
    assert draft.set_day(date(2026, 11, 27), dmz, f) is None and draft.rejected_day is None
    assert draft.slots(dmz, NOW) == ["12:30"]
    assert draft.next_step(f) is Step.PARTY and draft.slot == "12:30"


def test_a_new_day_keeps_the_time_only_when_it_still_runs(catalogue):
    dmz, f = product(catalogue, "dmz_tour"), facts(catalogue)
    draft = BookingDraft(flow_key="k", product_id="dmz_tour", day=date(2026, 12, 5), slot="12:30")
    assert draft.set_day(SATURDAY, dmz, f) is None and draft.slot == "12:30"
    draft.slot = "07:30"
    assert draft.set_day(date(2026, 11, 27), dmz, f) is None and draft.slot is None  # 07:30 is too soon


# --- party ----------------------------------------------------------------------------------------
def test_a_party_of_the_group_size_goes_to_staff(catalogue):
    nanta, f = product(catalogue, "nanta_show"), facts(catalogue, group_min_party=10)
    draft = ready(adults=None)
    assert draft.set_party(Party(9), nanta, f) is None and not draft.group
    assert draft.set_party(Party(8, 2), nanta, f) is None and draft.group
    assert (draft.adults, draft.children) == (8, 2)


def test_a_products_max_party_lowers_the_group_size(catalogue):
    beauty = product(catalogue, "beauty_consultation")  # max_party: 3
    f = facts(catalogue, group_min_party=10)
    assert f.group_size(beauty) == 4 and f.group_size(product(catalogue, "nanta_show")) == 10
    draft = BookingDraft(flow_key="k", product_id="beauty_consultation")
    assert draft.set_party(Party(4), beauty, f) is None and draft.group


def test_a_party_larger_than_the_seats_left_is_asked_again(catalogue):
    nanta = product(catalogue, "nanta_show")
    draft = ready(adults=None)
    assert draft.set_party(Party(3), nanta, facts(catalogue, seats=2)) is Problem.PARTY_TOO_MANY
    assert draft.adults is None and draft.seats_left == 2 and draft.next_step(facts(catalogue)) is Step.PARTY
    assert draft.set_party(Party(1), nanta, facts(catalogue, seats=0)) is Problem.SOLD_OUT
    assert draft.set_party(Party(12), nanta, facts(catalogue, seats=0)) is None and draft.group  # staff decide


def test_an_unreadable_party_is_asked_again(catalogue):
    draft = ready(adults=None)
    assert draft.answer(Step.PARTY, "好多人", facts(catalogue)) == Ask(Step.PARTY, Problem.PARTY)


# --- one message, several answers -----------------------------------------------------------------
def test_one_message_answers_every_open_question_it_can(catalogue):
    draft = BookingDraft(flow_key="k", product_id="nanta_show")
    answer = draft.answer(Step.DATE, "周六晚上8点 2个人", facts(catalogue))
    assert answer == Ask(Step.NAME, noted=("slot", "adults"))
    assert (draft.day, draft.slot, draft.adults) == (SATURDAY, "20:00", 2)


def test_choosing_the_product_takes_the_rest_of_the_message(catalogue):
    draft = BookingDraft(flow_key="k")
    answer = draft.choose_product(product(catalogue, "dmz_tour"), "订DMZ 下周一 3个人", facts(catalogue))
    assert answer == Ask(Step.DATE, Problem.DATE_CLOSED, noted=("adults",))
    assert draft.adults == 3 and draft.rejected_day == MONDAY


def test_a_bare_number_answers_only_the_question_asked(catalogue):
    draft = BookingDraft(flow_key="k", product_id="nanta_show", day=SATURDAY)
    assert draft.answer(Step.SLOT, "2", facts(catalogue), pick=2) == Ask(Step.PARTY)
    assert draft.slot == "17:00" and draft.adults is None


def test_an_answer_already_given_is_not_replaced_without_asking_for_a_change(catalogue):
    draft = ready(phone=None)
    assert draft.answer(Step.PHONE, "周日 13900001111", facts(catalogue)) == Ask(Step.CONFIRM)
    assert draft.day == SATURDAY and draft.phone == "+8613900001111"


def test_another_answer_in_a_wrong_one_is_noted_and_the_question_asked_again(catalogue):
    draft = BookingDraft(flow_key="k", product_id="nanta_show", day=SATURDAY)
    assert draft.answer(Step.SLOT, "2个人", facts(catalogue)) == Ask(Step.SLOT, noted=("adults",))
    assert draft.answer(Step.SLOT, "随便", facts(catalogue)) == Ask(Step.SLOT, Problem.SLOT)


# --- changes --------------------------------------------------------------------------------------
def test_a_change_sets_one_answer_and_the_flow_carries_on(catalogue):
    f = facts(catalogue)
    draft = ready()
    assert draft.change("周日", Step.CONFIRM, f) == Ask(Step.CONFIRM) and draft.day == SUNDAY
    assert draft.slot == "20:00" and draft.adults == 2
    assert draft.change("3个人", Step.CONFIRM, f) == Ask(Step.CONFIRM) and draft.adults == 3
    assert draft.change("14:00", Step.CONFIRM, f) == Ask(Step.CONFIRM) and draft.slot == "14:00"


def test_a_change_to_a_day_that_cannot_be_booked_asks_for_the_day(catalogue):
    draft = ready(product_id="dmz_tour", slot="07:30")
    assert draft.change("下周一", Step.CONFIRM, facts(catalogue)) == Ask(Step.DATE, Problem.DATE_CLOSED)
    assert draft.day == SATURDAY  # the old day stands until a good one is given


def test_a_name_is_changed_only_where_it_cannot_be_mistaken(catalogue):
    f = facts(catalogue)
    draft = ready()
    assert draft.change("李娜", Step.CONFIRM, f) == Ask(Step.CONFIRM, Problem.HOW_TO_EDIT) and draft.name == "张伟"
    assert draft.change("名字是李娜", Step.CONFIRM, f) == Ask(Step.CONFIRM) and draft.name == "李娜"


def test_a_change_nothing_reads_asks_again(catalogue):
    draft = ready(adults=None)
    assert draft.change("", Step.PARTY, facts(catalogue)) == Ask(Step.PARTY, Problem.PARTY)


# --- before booking -------------------------------------------------------------------------------
def test_recheck_refuses_a_day_that_went_inside_the_lead_time(catalogue):
    draft = ready(product_id="dmz_tour", day=date(2026, 11, 27), slot="12:30")
    later = datetime(2026, 11, 25, 13, 0, tzinfo=SEOUL)
    assert draft.recheck(facts(catalogue)) is None
    assert draft.recheck(facts(catalogue, later)) == Ask(Step.DATE, Problem.DATE_LEAD)


def test_recheck_never_books_another_time_unasked(catalogue):
    draft = ready(product_id="dmz_tour", slot="07:30")
    later = datetime(2026, 11, 26, 8, 0, tzinfo=SEOUL)  # Saturday 07:30 is now inside 48 hours, 12:30 is not
    assert draft.recheck(facts(catalogue, later)) == Ask(Step.SLOT) and draft.slot is None


def test_no_seats_at_confirmation_asks_for_the_party_again():
    draft = ready()
    assert draft.no_seats(1) is Problem.PARTY_TOO_MANY and draft.adults is None and draft.seats_left == 1


# --- the conversation state -----------------------------------------------------------------------
def test_the_state_has_readable_keys_and_no_empty_fields():
    stored = BookingDraft(flow_key="k1", product_id="nanta_show", day=SATURDAY).to_state()
    assert stored == {"flow_key": "k1", "product_id": "nanta_show", "day": "2026-11-28"}
    full = ready(children=1, group=True).to_state()
    assert full["children"] == 1 and full["group"] is True and "seats_left" not in full
    assert BookingDraft.from_state({"booking": json.loads(json.dumps(full))}) == ready(children=1, group=True)


def test_save_sets_flow_and_step_and_keeps_the_rest_of_the_state():
    state = {"rev": 3, "lang": "zh-CN", "last_booking": "YJ234567"}
    saved = ready().save(state, Step.CONFIRM)
    assert saved["flow"] == "booking" and saved["step"] == "confirm" and saved["lang"] == "zh-CN"
    assert saved["booking"]["flow_key"] == "flow-1" and saved["last_booking"] == "YJ234567"
    assert BookingDraft.ended(saved) == state


def test_booking_ends_the_flow_and_remembers_the_contact():
    state = ready().booked({"flow": "booking", "step": "confirm", "bk": {}, "lang": "en"}, "YJ234567")
    assert state == {"lang": "en", "last_booking": "YJ234567", "contact": ["张伟", "+8613812345678"]}


def test_a_new_draft_keeps_the_contact_details_from_earlier():
    assert BookingDraft.begin("k2", {"contact": ["张伟", "+8613812345678"]}).name == "张伟"
    from_draft = BookingDraft.begin("k2", ready().save({}, Step.CONFIRM))
    assert (from_draft.flow_key, from_draft.name, from_draft.phone) == ("k2", "张伟", "+8613812345678")
    assert from_draft.product_id is None and from_draft.day is None
    assert BookingDraft.begin("k2", {}) == BookingDraft(flow_key="k2")


# A traveler at the name question when the previous code was deployed: its state, as stored in Redis.
LEGACY_STATE = {"rev": 5, "lang": "zh-CN", "seen": 1795000000, "flow": "booking", "step": "name",
                "bk": {"k": "c2VjcmV0LWZsb3c", "p": "nanta_show", "d": "2026-11-28", "s": "20:00", "a": 2, "c": 0,
                       "group": False, "left": 3, "bad_day": "2026-11-20"}}


def test_a_legacy_draft_converts_and_continues_at_the_same_step(catalogue):
    draft = BookingDraft.from_state(LEGACY_STATE)
    assert draft == BookingDraft(flow_key="c2VjcmV0LWZsb3c", product_id="nanta_show", day=SATURDAY, slot="20:00",
                                 adults=2, children=0, seats_left=3, rejected_day=date(2026, 11, 20))
    f = facts(catalogue)
    assert draft.next_step(f) is Step(LEGACY_STATE["step"])
    assert draft.answer(Step.NAME, "张伟", f) == Ask(Step.PHONE)
    saved = draft.save(LEGACY_STATE, Step.PHONE)
    assert "bk" not in saved  # the one-letter form is dropped once converted
    assert saved["booking"] == {"flow_key": "c2VjcmV0LWZsb3c", "product_id": "nanta_show", "day": "2026-11-28",
                                "slot": "20:00", "adults": 2, "name": "张伟", "seats_left": 3,
                           "rejected_day": "2026-11-20"}
    assert (saved["step"], saved["rev"], saved["seen"]) == ("phone", 5, 1795000000)
    assert BookingDraft.from_state(saved) == draft  # read back in the new form


def test_a_legacy_draft_from_the_first_question_converts_too(catalogue):
    draft = BookingDraft.from_state({"flow": "booking", "step": "product", "bk": {"k": "abc"}})
    assert draft == BookingDraft(flow_key="abc") and draft.next_step(facts(catalogue)) is Step.PRODUCT


def test_a_state_without_a_draft_or_with_a_broken_day_is_read_safely():
    assert BookingDraft.from_state({"lang": "zh-CN"}) is None
    assert BookingDraft.from_state({"bk": {"k": "abc", "d": "not a day"}}) == BookingDraft(flow_key="abc")


@pytest.mark.parametrize("step,text,expected", [
    (Step.DATE, "周六", True), (Step.DATE, "12月5日", True), (Step.DATE, "我的护照丢了怎么办", False),
    (Step.SLOT, "20:00", True), (Step.SLOT, "晚上", True), (Step.SLOT, "2", True), (Step.SLOT, "附近有什么吃的", False),
    (Step.PARTY, "2大1小", True), (Step.PARTY, "100美元换多少韩元", False),
    (Step.NAME, "张伟", True), (Step.NAME, "Zhang Wei", True), (Step.NAME, "我的护照丢了怎么办", False),
    (Step.PHONE, "138 1234 5678", True), (Step.PHONE, "退税怎么办", False),
    (Step.PRODUCT, "2", True), (Step.CONFIRM, "景福宫几点开门", False),
    (Step.DATE, "改成周日", True), (None, "周六", False),
])
def test_what_answers_a_step_keeps_the_message_in_the_flow(step, text, expected):
    assert answers(step, text, NOW.date()) is expected
