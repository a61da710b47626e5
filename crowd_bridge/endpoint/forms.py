"""The HIT form contract: what a worker sees and what a submission looks like.

A HIT's Question is an HTMLQuestion (or ExternalQuestion/QuestionForm) XML
document. Inside the HTML, each item to label is a group of radio inputs
named ``item-<ITEM_ID>`` whose values are the allowed labels. A submission
is stored as a QuestionFormAnswers document, one Answer per form field.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from html.parser import HTMLParser
from xml.etree.ElementTree import Element
from xml.sax.saxutils import escape

from defusedxml import ElementTree

ITEM_PREFIX = "item-"
QUESTION_KINDS = ("HTMLQuestion", "ExternalQuestion", "QuestionForm")
ANSWERS_NS = (
    "http://mechanicalturk.amazonaws.com/AWSMechanicalTurkDataSchemas/"
    "2005-10-01/QuestionFormAnswers.xsd"
)


@dataclass(frozen=True)
class QuestionDoc:
    """What a Question parses to: its kind and, per kind, HTML or a URL."""

    kind: str
    html: str | None = None
    external_url: str | None = None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(root: Element, name: str) -> str | None:
    for element in root.iter():
        if _local(element.tag) == name:
            return element.text or ""
    return None


def parse_question(xml: str) -> QuestionDoc:
    """Parse a Question document; raises ValueError naming what is wrong."""
    try:
        root = ElementTree.fromstring(xml)
    except Exception as exc:  # defusedxml raises several unrelated types
        raise ValueError(f"the Question is not well-formed XML ({exc})") from exc

    kind = _local(root.tag)
    if kind not in QUESTION_KINDS:
        raise ValueError(
            f"the Question's root element is <{kind}>; expected one of "
            + ", ".join(QUESTION_KINDS)
        )

    if kind == "HTMLQuestion":
        html = _child_text(root, "HTMLContent")
        if html is None:
            raise ValueError("the HTMLQuestion has no HTMLContent element")
        return QuestionDoc(kind, html=html)

    if kind == "ExternalQuestion":
        url = _child_text(root, "ExternalURL")
        if not url:
            raise ValueError("the ExternalQuestion has no ExternalURL")
        return QuestionDoc(kind, external_url=url.strip())

    return QuestionDoc(kind)


class _RadioCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: dict[str, list[str]] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag != "input":
            return

        values = {name: value for name, value in attrs}
        name = values.get("name") or ""
        if (values.get("type") or "").lower() != "radio":
            return
        if not name.startswith(ITEM_PREFIX) or len(name) == len(ITEM_PREFIX):
            return

        labels = self.items.setdefault(name[len(ITEM_PREFIX) :], [])
        label = values.get("value")
        if label is not None and label not in labels:
            labels.append(label)


def form_items(question: str) -> dict[str, tuple[str, ...]]:
    """Item id -> allowed labels, in page order, as a worker would see them.

    Questions with no HTML (ExternalQuestion, QuestionForm) or no labelled
    radio groups give an empty mapping: there is nothing a simulated worker
    could answer.
    """
    try:
        doc = parse_question(question)
    except ValueError:
        return {}

    if doc.html is None:
        return {}

    collector = _RadioCollector()
    collector.feed(doc.html)
    collector.close()
    return {item: tuple(labels) for item, labels in collector.items.items() if labels}


def answers_xml(fields: Mapping[str, str]) -> str:
    """A QuestionFormAnswers document with one FreeText answer per field."""
    parts = [f'<QuestionFormAnswers xmlns="{ANSWERS_NS}">']
    for name, value in fields.items():
        parts.append(
            f"<Answer><QuestionIdentifier>{escape(name)}</QuestionIdentifier>"
            f"<FreeText>{escape(value)}</FreeText></Answer>"
        )
    parts.append("</QuestionFormAnswers>")
    return "".join(parts)


def parse_answers(xml: str) -> dict[str, str]:
    """QuestionIdentifier -> FreeText from a QuestionFormAnswers document."""
    root = ElementTree.fromstring(xml)
    answers: dict[str, str] = {}
    for answer in root:
        if _local(answer.tag) != "Answer":
            continue
        identifier = _child_text(answer, "QuestionIdentifier")
        if identifier is not None:
            answers[identifier] = _child_text(answer, "FreeText") or ""
    return answers
