"""crowd_bridge's own MTurk-compatible endpoint, with simulated crowds.

Any boto3 ``mturk`` client reaches it by changing only ``endpoint_url``.
"""

from .crowds import Crowd, ReplayCrowd, SyntheticCrowd, SyntheticSpec
from .money import FeeSchedule
from .notifications import NotifyConfig
from .server import (
    EndpointConfig,
    RunningEndpoint,
    add_requester,
    build_app,
    list_requesters,
    serve,
)

__all__ = [
    "Crowd",
    "EndpointConfig",
    "FeeSchedule",
    "NotifyConfig",
    "ReplayCrowd",
    "RunningEndpoint",
    "SyntheticCrowd",
    "SyntheticSpec",
    "add_requester",
    "build_app",
    "list_requesters",
    "serve",
]
