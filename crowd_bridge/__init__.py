"""Crowd-labelling campaigns over the MTurk Requester API."""

__version__ = "0.1.0"
