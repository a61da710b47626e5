"""Aggregators that turn crowd answers into one label per item, and worker scores."""

from crowd_bridge.aggregation.base import (
    Aggregator,
    EncodedAnswers,
    answer_matrix,
    encode_answers,
)
from crowd_bridge.aggregation.dawid_skene import DawidSkene
from crowd_bridge.aggregation.glad import GLAD
from crowd_bridge.aggregation.mace import MACE
from crowd_bridge.aggregation.majority import MajorityVote
from crowd_bridge.aggregation.one_coin import OneCoin
from crowd_bridge.aggregation.workers import DetectorConfig, score_workers

__all__ = [
    "GLAD",
    "MACE",
    "Aggregator",
    "DawidSkene",
    "DetectorConfig",
    "EncodedAnswers",
    "MajorityVote",
    "OneCoin",
    "answer_matrix",
    "encode_answers",
    "score_workers",
]
