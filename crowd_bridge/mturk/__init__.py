"""The Requester API seen through boto3: one client, one error translation."""

from crowd_bridge.mturk.answers import parse_question_form_answers
from crowd_bridge.mturk.client import MTurkClient

__all__ = ["MTurkClient", "parse_question_form_answers"]
