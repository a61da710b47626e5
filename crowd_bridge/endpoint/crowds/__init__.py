"""Simulated crowds that take HITs on the bundled endpoint."""

from .base import Answers, Crowd, HitView, Marketplace, ScheduledCrowd, WorkerProfile
from .replay import ReplayCrowd, mturk_worker_id, recorded_worker_id
from .synthetic import SyntheticCrowd, SyntheticSpec

__all__ = [
    "Answers",
    "Crowd",
    "HitView",
    "Marketplace",
    "ReplayCrowd",
    "ScheduledCrowd",
    "SyntheticCrowd",
    "SyntheticSpec",
    "WorkerProfile",
    "mturk_worker_id",
    "recorded_worker_id",
]
