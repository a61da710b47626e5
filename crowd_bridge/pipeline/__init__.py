"""The stages of a campaign, as plain functions over a ``CampaignContext``.

Each stage reads the state database, talks to the workforce, writes back, and
can be run again at any time: the scheduler runs them on intervals, the demo
calls them in a loop, and a crash between any two lines is repaired by the
next run.
"""

from crowd_bridge.pipeline.context import CampaignContext, Clock, SystemClock

__all__ = ["CampaignContext", "Clock", "SystemClock"]
