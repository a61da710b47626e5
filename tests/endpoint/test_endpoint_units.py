"""Small parts on their own: amounts, ordered indexes, forms, ids, clocks."""

from __future__ import annotations

from datetime import datetime

import pytest
from endpoint_helpers import question

from crowd_bridge.endpoint.clock import VirtualClock, make_clock, to_epoch
from crowd_bridge.endpoint.forms import answers_xml, form_items, parse_answers
from crowd_bridge.endpoint.model import IdFactory, OrderedIndex
from crowd_bridge.endpoint.money import format_cents, parse_amount
from crowd_bridge.endpoint.state import EndpointState
from crowd_bridge.errors import ConfigError, EndpointRequestError


@pytest.mark.parametrize(
    ("text", "cents"),
    [("0.12", 12), ("3", 300), ("1.5", 150), ("1.", 100), ("10000.00", 1_000_000)],
)
def test_amounts_become_cents(text: str, cents: int) -> None:
    assert parse_amount(text, "Reward") == cents


@pytest.mark.parametrize("text", ["", ".5", "1.234", "1e3", " 1", "-0.5"])
def test_malformed_amounts(text: str) -> None:
    with pytest.raises(EndpointRequestError):
        parse_amount(text, "Reward")


def test_cents_are_written_like_mturk() -> None:
    assert [format_cents(c) for c in (0, 7, 120, 1_000_000, -350)] == [
        "0.00",
        "0.07",
        "1.20",
        "10000.00",
        "-3.50",
    ]


def test_ordered_index_pages_survive_removals() -> None:
    index = OrderedIndex()
    for n in range(300):
        index.add(f"K{n}")

    seen: list[str] = []
    after = -1
    while True:
        keys, last = index.page(after, 40)
        seen += keys
        # Removing keys already paged must not disturb the pages still ahead.
        for key in keys[::2]:
            index.discard(key)
        if last is None:
            break
        after = last
    assert seen == [f"K{n}" for n in range(300)]
    assert len(index) == 150

    index.add("K1")  # re-adding moves a key to the end
    keys, last = index.page(-1, 1000)
    assert keys[-1] == "K1" and last is None
    assert index.page(-1, 10, keep=lambda k: k.endswith("7"))[0][:2] == ["K7", "K17"]


def test_form_items_read_radio_groups_only() -> None:
    form = question(["P1", "P2"], labels=("0", "1"))
    form = form.replace(
        "<textarea",
        '<input type="radio" name="other" value="x">'
        '<input type="checkbox" name="item-P9" value="1">'
        '<input type="RADIO" name="item-P3" value="a&amp;b"><textarea',
    )
    assert form_items(form) == {"P1": ("0", "1"), "P2": ("0", "1"), "P3": ("a&b",)}
    assert (
        form_items(
            "<ExternalQuestion><ExternalURL>https://x</ExternalURL>"
            "<FrameHeight>0</FrameHeight></ExternalQuestion>"
        )
        == {}
    )
    assert form_items("not xml") == {}


def test_answers_round_trip() -> None:
    fields = {"item-P1": "1", "comments": "<b>& 'quoted'</b>"}
    assert parse_answers(answers_xml(fields)) == fields


def test_ids_are_repeatable_per_seed() -> None:
    first = [IdFactory(5).new("hit") for _ in range(1)]
    factory = IdFactory(5)
    ids = [factory.new("hit") for _ in range(3)]
    assert ids[0] == first[0]
    assert len(set(ids)) == 3
    assert all(len(i) == 30 and i.isalnum() and i.isupper() for i in ids)
    assert IdFactory(6).new("hit") != ids[0]


def test_virtual_clock_moves_only_forward() -> None:
    clock = make_clock("virtual", datetime(2026, 1, 1))
    assert isinstance(clock, VirtualClock)
    assert clock.now() == to_epoch("2026-01-01T00:00:00Z")
    clock.move_to(clock.now() + 5)
    with pytest.raises(ValueError):
        clock.move_to(clock.now() - 1)
    with pytest.raises(ConfigError):
        make_clock("sundial", None)


def test_expired_request_tokens_are_swept() -> None:
    state = EndpointState()
    for n in range(999):
        state.remember_token("AKID", "CreateHIT", f"t{n}", 0.0, f"H{n}")
    assert state.token_result("AKID", "CreateHIT", "t5", 3600.0) == "H5"
    state.remember_token("AKID", "CreateHIT", "late", 86_400.0, "HLATE")
    assert len(state.tokens) == 1
    assert state.token_result("AKID", "CreateHIT", "t5", 86_400.0) is None
