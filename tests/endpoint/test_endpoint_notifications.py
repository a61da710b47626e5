"""HIT event notifications delivered to SQS and SNS (moto stands in for AWS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from endpoint_helpers import START, hit_args, make_client, submit_as
from moto import mock_aws

from crowd_bridge.endpoint import EndpointConfig, NotifyConfig, RunningEndpoint
from crowd_bridge.endpoint.notifications import customer_id, source_account

REQUESTER = "AKIDNOTIFY"
FAST = NotifyConfig(attempts=1, backoff_s=0.0)


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def queue_url(name: str) -> str:
    return str(
        boto3.client("sqs", "us-east-1").create_queue(QueueName=name)["QueueUrl"]
    )


def received(url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", "us-east-1")
    bodies: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        messages = batch.get("Messages", [])
        if not messages:
            return bodies
        for message in messages:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def spec(destination: str, *events: str, transport: str = "SQS") -> dict[str, Any]:
    return {
        "Destination": destination,
        "Transport": transport,
        "Version": "2006-05-05",
        "EventTypes": list(events),
    }


def hit_type(client: Any) -> str:
    args = hit_args()
    fields = ("Title", "Description", "Reward", "AssignmentDurationInSeconds")
    return str(
        client.create_hit_type(
            **{k: args[k] for k in fields}, AutoApprovalDelayInSeconds=86_400
        )["HITTypeId"]
    )


def publish(client: Any, type_id: str, **overrides: Any) -> str:
    args = {"HITTypeId": type_id, "LifetimeInSeconds": 3600, "MaxAssignments": 2}
    args["Question"] = hit_args()["Question"]
    args.update(overrides)
    return str(client.create_hit_with_hit_type(**args)["HIT"]["HITId"])


def test_hit_and_assignment_events_reach_an_sqs_queue(aws: None) -> None:
    url = queue_url("mturk-events")
    config = EndpointConfig(clock="virtual", start_time=START, notifications=FAST)
    with RunningEndpoint(config) as endpoint:
        client = make_client(endpoint.url, REQUESTER)
        type_id = hit_type(client)
        client.update_notification_settings(
            HITTypeId=type_id,
            Notification=spec(
                url,
                "HITCreated",
                "AssignmentAccepted",
                "AssignmentSubmitted",
                "AssignmentApproved",
                "AssignmentRejected",
                "HITExpired",
                "HITReviewable",
            ),
        )
        hit_id = publish(client, type_id)
        first = submit_as(endpoint.url, hit_id, "AWORKER1", {"item-X1": "1"})
        second = submit_as(endpoint.url, hit_id, "AWORKER2", {"item-X1": "0"})
        client.approve_assignment(AssignmentId=first)
        client.reject_assignment(AssignmentId=second, RequesterFeedback="Wrong")
        endpoint.advance(3600)
        # Calls on HITs of other types send nothing.
        other = make_client(endpoint.url, "AKIDOTHER")
        publish(other, hit_type(other))
        assert endpoint.wait_for_notifications()

    documents = received(url)
    events = [doc["Events"][0] for doc in documents]
    assert [(e["EventType"], e.get("AssignmentId")) for e in events] == [
        ("HITCreated", None),
        ("AssignmentAccepted", first),
        ("AssignmentSubmitted", first),
        ("AssignmentAccepted", second),
        ("AssignmentSubmitted", second),
        # Both slots are done: the HIT is reviewable before it expires.
        ("HITReviewable", None),
        ("AssignmentApproved", first),
        ("AssignmentRejected", second),
        ("HITExpired", None),
    ]
    assert {e["HITId"] for e in events} == {hit_id}
    assert {e["HITTypeId"] for e in events} == {type_id}
    assert events[1]["WorkerId"] == "AWORKER1"
    assert events[0]["EventTimestamp"] == "2026-01-01T00:00:00Z"
    assert events[-1]["EventTimestamp"] == "2026-01-01T01:00:00Z"
    assert set(documents[0]) == {
        "Events",
        "EventDocId",
        "SourceAccount",
        "CustomerId",
        "EventDocVersion",
    }
    assert len({doc["EventDocId"] for doc in documents}) == len(documents)
    assert documents[0]["EventDocVersion"] == "2006-05-05"
    assert documents[0]["CustomerId"] == customer_id(REQUESTER)
    assert documents[0]["SourceAccount"] == source_account(REQUESTER)


def test_test_events_go_through_sns(aws: None) -> None:
    url = queue_url("sns-subscriber")
    sns = boto3.client("sns", "us-east-1")
    topic = sns.create_topic(Name="mturk-events")["TopicArn"]
    queue_arn = boto3.client("sqs", "us-east-1").get_queue_attributes(
        QueueUrl=url, AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    with RunningEndpoint(EndpointConfig(notifications=FAST)) as endpoint:
        client = make_client(endpoint.url, REQUESTER)
        client.send_test_event_notification(
            Notification=spec(topic, "Ping", transport="SNS"), TestEventType="Ping"
        )
        # The test event is sent even when the specification does not list it.
        client.send_test_event_notification(
            Notification=spec(topic, "HITCreated", transport="SNS"),
            TestEventType="AssignmentSubmitted",
        )

    envelopes = received(url)
    documents = [json.loads(envelope["Message"]) for envelope in envelopes]
    assert [d["Events"][0]["EventType"] for d in documents] == [
        "Ping",
        "AssignmentSubmitted",
    ]
    assert {envelope["TopicArn"] for envelope in envelopes} == {topic}


def test_settings_are_checked_and_can_be_switched_off(aws: None) -> None:
    url = queue_url("checked")
    config = EndpointConfig(clock="virtual", start_time=START, notifications=FAST)
    with RunningEndpoint(config) as endpoint:
        client = make_client(endpoint.url, REQUESTER)
        type_id = hit_type(client)
        refusals = [
            {"Notification": spec(url, "Ping")},
            {"Notification": spec("not a url", "HITCreated")},
            {"Notification": spec(url, "HITCreated", transport="SNS")},
            {"Notification": spec("me@example.com", "HITCreated", transport="Email")},
            {"Notification": {**spec(url, "HITCreated"), "Version": "2017-01-17"}},
            {"Active": True},
            {},
        ]
        for extra in refusals:
            with pytest.raises(ClientError) as error:
                client.update_notification_settings(HITTypeId=type_id, **extra)
            assert error.value.response["Error"]["Code"] == "RequestError", extra

        other = make_client(endpoint.url, "AKIDOTHER")
        with pytest.raises(ClientError) as error:
            other.update_notification_settings(
                HITTypeId=type_id, Notification=spec(url, "HITCreated")
            )
        assert error.value.response["TurkErrorCode"] == (
            "AWS.MechanicalTurk.HITTypeDoesNotExist"
        )

        client.update_notification_settings(
            HITTypeId=type_id, Notification=spec(url, "HITCreated"), Active=False
        )
        publish(client, type_id)
        client.update_notification_settings(HITTypeId=type_id, Active=True)
        kept = publish(client, type_id)
        client.update_notification_settings(HITTypeId=type_id, Active=False)
        publish(client, type_id)

        with pytest.raises(ClientError) as error:
            client.send_test_event_notification(
                Notification=spec(url + "-missing", "Ping"), TestEventType="Ping"
            )
        assert error.value.response["TurkErrorCode"] == (
            "AWS.MechanicalTurk.NotificationDeliveryFailed"
        )
        assert endpoint.wait_for_notifications()

    assert [d["Events"][0]["HITId"] for d in received(url)] == [kept]


def test_undelivered_notifications_survive_a_restart(aws: None, tmp_path: Path) -> None:
    sqs = boto3.client("sqs", "us-east-1")
    url = queue_url("late-queue")
    sqs.delete_queue(QueueUrl=url)

    def config() -> EndpointConfig:
        return EndpointConfig(
            clock="virtual",
            start_time=START,
            state_path=tmp_path / "endpoint.db",
            notifications=FAST,
        )

    with RunningEndpoint(config()) as endpoint:
        client = make_client(endpoint.url, REQUESTER)
        type_id = hit_type(client)
        client.update_notification_settings(
            HITTypeId=type_id, Notification=spec(url, "HITCreated")
        )
        hit_id = publish(client, type_id)
        assert endpoint.wait_for_notifications()
        assert endpoint.runtime.notifier.failed == 1
        assert len(endpoint.runtime.state.outbox) == 1

    queue_url("late-queue")
    with RunningEndpoint(config()) as endpoint:
        assert endpoint.wait_for_notifications()
        assert endpoint.runtime.notifier.sent == 1
    assert [d["Events"][0]["HITId"] for d in received(url)] == [hit_id]

    with RunningEndpoint(config()) as endpoint:
        # Delivered once, forgotten: nothing is sent a second time.
        assert endpoint.wait_for_notifications()
        assert endpoint.runtime.notifier.sent == 0
        assert endpoint.runtime.state.outbox == {}
