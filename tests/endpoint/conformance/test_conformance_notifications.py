"""Notification settings: what UpdateNotificationSettings accepts and refuses."""

from __future__ import annotations

from typing import Any

import pytest
from conformance_kit import Target, refusal, unique

QUEUE = "https://sqs.us-east-1.amazonaws.com/123456789012/conformance-events"
TOPIC = "arn:aws:sns:us-east-1:123456789012:conformance-events"


def hit_type(client: Any) -> str:
    return str(
        client.create_hit_type(
            Title=unique("Notified"),
            Description="d",
            Reward="0.05",
            AssignmentDurationInSeconds=300,
        )["HITTypeId"]
    )


def spec(destination: str, transport: str, *events: str) -> dict[str, Any]:
    return {
        "Destination": destination,
        "Transport": transport,
        "Version": "2006-05-05",
        "EventTypes": list(events) or ["AssignmentSubmitted"],
    }


def test_settings_are_stored_switched_and_checked(target: Target) -> None:
    client = target.client()
    type_id = hit_type(client)
    refusal(client.update_notification_settings, HITTypeId=type_id, Active=True)

    client.update_notification_settings(
        HITTypeId=type_id, Notification=spec(QUEUE, "SQS"), Active=False
    )
    client.update_notification_settings(HITTypeId=type_id, Active=False)
    client.update_notification_settings(
        HITTypeId=type_id, Notification=spec(TOPIC, "SNS", "HITReviewable")
    )
    client.update_notification_settings(HITTypeId=type_id, Active=False)

    for bad in [
        spec(QUEUE, "SQS", "Ping"),
        spec(TOPIC, "SQS"),
        spec(QUEUE, "SNS"),
        {**spec(QUEUE, "SQS"), "Version": "1999-01-01"},
    ]:
        refusal(
            client.update_notification_settings, HITTypeId=type_id, Notification=bad
        )
    response = refusal(
        client.update_notification_settings,
        HITTypeId="3NOSUCHHITTYPE0000000000000000",
        Notification=spec(QUEUE, "SQS"),
    )
    assert response["TurkErrorCode"] == "AWS.MechanicalTurk.HITTypeDoesNotExist"


def test_another_requesters_hit_type_cannot_be_changed(target: Target) -> None:
    type_id = hit_type(target.client())
    refusal(
        target.client(second=True).update_notification_settings,
        HITTypeId=type_id,
        Notification=spec(QUEUE, "SQS"),
    )


@pytest.mark.simulated
def test_undeliverable_test_events_are_request_errors(target: Target) -> None:
    # The bundled endpoint's notifications go to a closed local port here.
    response = refusal(
        target.client().send_test_event_notification,
        Notification=spec(QUEUE, "SQS", "Ping"),
        TestEventType="Ping",
    )
    assert QUEUE in response["Error"]["Message"]
