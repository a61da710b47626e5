"""Requester API operations on HIT event notifications."""

from __future__ import annotations

import logging
from typing import Any

from crowd_bridge.errors import EndpointRequestError

from .context import Call, Registry, unsupported
from .notifications import (
    DELIVERY_FAILED,
    DeliveryError,
    check_specification,
    event_document,
)

logger = logging.getLogger(__name__)
registry = Registry()


@registry.handles("UpdateNotificationSettings")
def update_notification_settings(call: Call) -> dict[str, Any]:
    p = call.params
    state = call.state
    hit_type = state.requester_hit_type(call.requester, p["HITTypeId"])
    spec, active = p.get("Notification"), p.get("Active")
    if spec is None and active is None:
        raise EndpointRequestError(
            "UpdateNotificationSettings needs a Notification, Active, or both."
        )
    if spec is None and hit_type.notification is None:
        raise EndpointRequestError(
            f"HIT type {hit_type.hit_type_id} has no notification specification "
            "to switch on or off; send a Notification first."
        )

    if spec is not None:
        hit_type.notification = check_specification(spec, test=False)
        # A new specification is meant to be used unless told otherwise.
        hit_type.notification_active = True if active is None else bool(active)
    else:
        hit_type.notification_active = bool(active)
    state.touch("hittype", hit_type.hit_type_id)
    logger.info(
        "Requester %s set notifications of HIT type %s to %s (active: %s)",
        call.requester,
        hit_type.hit_type_id,
        hit_type.notification and hit_type.notification["Destination"],
        hit_type.notification_active,
    )
    return {}


@registry.handles("SendTestEventNotification")
def send_test_event_notification(call: Call) -> dict[str, Any]:
    spec = check_specification(call.params["Notification"], test=True)
    event_type = call.params["TestEventType"]
    if call.notifier is None:
        raise unsupported(call.operation, "no notification delivery is set up")

    doc_id = call.state.ids.new("event")
    document = event_document(
        doc_id=doc_id,
        requester=call.requester,
        version=spec["Version"],
        event_type=event_type,
        at=call.now,
    )
    try:
        call.notifier.send_now(spec["Transport"], spec["Destination"], document)
    except DeliveryError as exc:
        raise EndpointRequestError(
            f"The test notification could not be delivered to "
            f"{spec['Destination']}: {exc}",
            DELIVERY_FAILED,
        ) from None
    logger.info(
        "Requester %s sent a test %s notification to %s",
        call.requester,
        event_type,
        spec["Destination"],
    )
    return {}
