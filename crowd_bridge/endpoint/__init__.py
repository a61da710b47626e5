"""crowd_bridge's own MTurk-compatible endpoint, with simulated crowds.

Any boto3 ``mturk`` client reaches it by changing only ``endpoint_url``.
"""

from .crowds import Crowd, ReplayCrowd, SyntheticCrowd, SyntheticSpec
from .money import FeeSchedule
from .server import EndpointConfig, RunningEndpoint, build_app, serve

__all__ = [
    "Crowd",
    "EndpointConfig",
    "FeeSchedule",
    "ReplayCrowd",
    "RunningEndpoint",
    "SyntheticCrowd",
    "SyntheticSpec",
    "build_app",
    "serve",
]
