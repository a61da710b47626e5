"""HIT pages: escaped, strict, wrapped as HTMLQuestion, within MTurk's size."""

from __future__ import annotations

from pathlib import Path

import pytest

from crowd_bridge.campaign import load_campaign
from crowd_bridge.errors import TemplateError
from crowd_bridge.mturk.answers import parse_question_form_answers
from crowd_bridge.rendering import HitRenderer, RenderedItem, wrap_html_question

DATA = Path(__file__).resolve().parent / "data"


FIELDS = {
    f"{side}_{name}": ""
    for side in ("left", "right")
    for name in ("shop", "name", "description", "price")
}


@pytest.fixture(scope="module")
def renderer() -> HitRenderer:
    return HitRenderer(load_campaign(DATA / "small" / "campaign.yaml").config)


def item(item_id: str, **fields: str) -> RenderedItem:
    return RenderedItem(item_id, {**FIELDS, **fields})


def test_each_item_is_a_radio_group_named_after_it(renderer: HitRenderer) -> None:
    html = renderer.html([item("P1", left_name="Sony A"), item("P2")])

    assert html.count('name="item-P1"') == 2
    assert html.count('name="item-P2"') == 2
    assert 'value="1"' in html and 'value="0"' in html
    assert 'name="assignmentId"' in html
    assert "<script src" not in html and "<link" not in html


def test_product_text_is_escaped(renderer: HitRenderer) -> None:
    html = renderer.html([item("P1", left_name='<b>"TV" & co</b>')])

    assert "&lt;b&gt;&#34;TV&#34; &amp; co&lt;/b&gt;" in html
    assert '<b>"TV"' not in html


def test_a_field_the_template_needs_but_the_item_lacks_fails(
    renderer: HitRenderer,
) -> None:
    with pytest.raises(TemplateError, match="item P1"):
        renderer.html([RenderedItem("P1", {"left_name": "only this"})])


def test_question_is_html_question_xml(renderer: HitRenderer) -> None:
    question = renderer.question([item("P1", left_name="a ]]> b")])
    raw = wrap_html_question("<p>a ]]> b</p>")

    assert question.startswith("<HTMLQuestion xmlns=")
    assert "a ]]&gt; b" in question
    assert question.endswith("<FrameHeight>0</FrameHeight></HTMLQuestion>")
    assert "<p>a ]]]]><![CDATA[> b</p>" in raw


def test_question_over_65535_bytes_is_refused() -> None:
    with pytest.raises(TemplateError, match="over MTurk's limit of 65,535"):
        wrap_html_question("x" * 65_500, first_item="P7")


def test_question_form_answers_are_parsed() -> None:
    xml = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<QuestionFormAnswers xmlns="http://mechanicalturk.amazonaws.com/'
        'AWSMechanicalTurkDataSchemas/2005-10-01/QuestionFormAnswers.xsd">'
        "<Answer><QuestionIdentifier>item-P1</QuestionIdentifier>"
        "<FreeText>1</FreeText></Answer>"
        "<Answer><QuestionIdentifier>colour</QuestionIdentifier>"
        "<SelectionIdentifier>red</SelectionIdentifier>"
        "<SelectionIdentifier>blue</SelectionIdentifier></Answer>"
        "<Answer><QuestionIdentifier>comments</QuestionIdentifier>"
        "<FreeText>fine &amp; dandy</FreeText></Answer>"
        "</QuestionFormAnswers>"
    )

    assert parse_question_form_answers(xml) == {
        "item-P1": "1",
        "colour": "red|blue",
        "comments": "fine & dandy",
    }


def test_hostile_answer_xml_is_refused() -> None:
    bomb = (
        '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">'
        '<!ENTITY b "&a;&a;&a;&a;">]><QuestionFormAnswers>&b;</QuestionFormAnswers>'
    )

    with pytest.raises(Exception, match="not valid XML"):
        parse_question_form_answers(bomb)
