"""Parse the QuestionFormAnswers XML that MTurk returns for an assignment."""

from __future__ import annotations

from typing import Any

import defusedxml.ElementTree as SafeElementTree
import xmltodict

from crowd_bridge.errors import InputDataError


def parse_question_form_answers(xml: str) -> dict[str, str]:
    """Map each QuestionIdentifier to its answer text.

    Free-text answers come as ``FreeText``; selection answers as one or more
    ``SelectionIdentifier`` (joined by '|'); uploaded files as
    ``UploadedFileKey``. The XML is first parsed with defusedxml so that
    entity expansion tricks in worker-supplied text cannot hurt the service.
    """
    try:
        SafeElementTree.fromstring(xml)
        document = xmltodict.parse(xml, process_namespaces=False)
    except Exception as error:  # defusedxml and expat raise several types
        raise InputDataError(f"assignment answer is not valid XML: {error}") from error
    root = document.get("QuestionFormAnswers")
    if root is None:
        raise InputDataError("assignment answer has no QuestionFormAnswers element")
    answers = root.get("Answer") or []
    if isinstance(answers, dict):
        answers = [answers]
    parsed: dict[str, str] = {}
    for answer in answers:
        identifier = _text(answer.get("QuestionIdentifier"))
        if not identifier:
            continue
        parsed[identifier] = _answer_value(answer)
    return parsed


def _answer_value(answer: dict[str, Any]) -> str:
    if "FreeText" in answer:
        return _text(answer["FreeText"])
    if "SelectionIdentifier" in answer:
        selections = answer["SelectionIdentifier"]
        if isinstance(selections, list):
            return "|".join(_text(s) for s in selections)
        return _text(selections)
    if "UploadedFileKey" in answer:
        return _text(answer["UploadedFileKey"])
    return ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return str(value.get("#text", "")).strip()
    return str(value).strip()
