"""The dev stack's own AWS calls reach its moto without a socket, and answer as over HTTP."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from typing import Any

import boto3
import botocore.exceptions
import pytest
from moto.server import ThreadedMotoServer
from qqbus.local.in_process_aws import answer_in_process, stop_answering

TABLE = {
    "TableName": "t",
    "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
    "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "S"}],
    "BillingMode": "PAY_PER_REQUEST",
}


def test_calls_are_answered_in_process_with_the_servers_state_and_errors() -> None:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    dynamodb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1")
    dynamodb.create_table(**TABLE)  # over HTTP
    answer_in_process(endpoint)
    try:
        dynamodb.put_item(TableName="t", Item={"k": {"S": "in-process"}, "n": {"N": "1"}})
        # Another process sees it through the server: one state behind both doors.
        seen = subprocess.run(
            [
                sys.executable,
                "-c",
                "import boto3, sys\n"
                "c = boto3.client('dynamodb', endpoint_url=sys.argv[1], region_name='us-east-1')\n"
                "print(c.get_item(TableName='t', Key={'k': {'S': 'in-process'}})['Item']['n']['N'])",
                endpoint,
            ],
            capture_output=True,
            text=True,
            check=True,
            env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "PATH": ""},
        )
        assert seen.stdout.strip() == "1"
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            dynamodb.put_item(
                TableName="t",
                Item={"k": {"S": "in-process"}},
                ConditionExpression="attribute_not_exists(k)",
            )
        assert refused.value.response["Error"]["Code"] == "ConditionalCheckFailedException"
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

        sqs = boto3.client("sqs", endpoint_url=endpoint, region_name="us-east-1")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]
        sqs.send_message(QueueUrl=url, MessageBody="héllo")
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["héllo"]

        server.stop()  # the socket is gone: only the in-process door is left
        assert dynamodb.get_item(TableName="t", Key={"k": {"S": "in-process"}})["Item"]["n"] == {"N": "1"}
    finally:
        stop_answering(endpoint)
    with pytest.raises(botocore.exceptions.EndpointConnectionError):
        dynamodb.get_item(TableName="t", Key={"k": {"S": "in-process"}})  # HTTP again, to a stopped server


def test_read_item_is_what_a_consistent_get_item_returns(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import mock_aws
    from qqbus.local.in_process_aws import read_item

    key = {"k": {"S": "g"}}
    item = {
        **key,
        "n": {"N": "1733000000123"},
        "member": {"BOOL": True},
        "none": {"NULL": True},
        "tags": {"SS": ["a", "b"]},
        "nested": {"M": {"l": {"L": [{"S": "x"}, {"N": "2"}]}}},
    }
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(**TABLE)
        dynamodb.put_item(TableName="t", Item=item)
        got = dynamodb.get_item(TableName="t", Key=key, ConsistentRead=True)["Item"]
        assert read_item("us-east-1", "t", key) == got == item
        assert read_item("us-east-1", "t", {"k": {"S": "absent"}}) is None
        assert read_item("us-east-1", "absent", key) is None
        assert read_item("eu-west-1", "t", key) is None  # the table is another region's
        # Calls made under another account (moto's MOTO_ACCOUNT_ID) are read there too.
        monkeypatch.setenv("MOTO_ACCOUNT_ID", "111122223333")
        assert read_item("us-east-1", "t", key) is None
        dynamodb.create_table(**TABLE)
        dynamodb.put_item(TableName="t", Item={**key, "n": {"N": "2"}})
        assert read_item("us-east-1", "t", key) == {**key, "n": {"N": "2"}}


def story(endpoint: str, name: str) -> list[Any]:
    """Calls of every service the stack uses, each answer with ``name`` and volatile parts taken out."""
    import json

    def client(service: str) -> Any:
        return boto3.client(service, endpoint_url=endpoint, region_name="us-east-1")

    def error(call: Any, **kwargs: Any) -> tuple[str, int]:
        with pytest.raises(botocore.exceptions.ClientError) as refused:
            call(**kwargs)
        return refused.value.response["Error"]["Code"], refused.value.response["ResponseMetadata"][
            "HTTPStatusCode"
        ]

    sqs, events, dynamodb = client("sqs"), client("events"), client("dynamodb")
    ssm, secrets = client("ssm"), client("secretsmanager")
    told: list[Any] = []
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    told.append(url.replace(name, "Q"))  # the URL names the endpoint, as over HTTP
    told.append(sqs.get_queue_url(QueueName=name)["QueueUrl"] == url)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_rule(Name=name, EventPattern=json.dumps({"source": ["qqbus.test"]}))
    events.put_targets(Rule=name, Targets=[{"Id": "q", "Arn": arn}])
    put = events.put_events(Entries=[{"Source": "qqbus.test", "DetailType": "t", "Detail": '{"n": "é"}'}])
    told.append(put["FailedEntryCount"])
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    told.append([json.loads(m["Body"])["detail"] for m in got])
    sqs.delete_message(QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"])
    told.append(error(sqs.get_queue_url, QueueName=f"{name}-absent"))
    dynamodb.create_table(**{**TABLE, "TableName": name})
    told.append(error(dynamodb.put_item, TableName=name, Item={"k": {"S": ""}}))  # an empty key
    told.append(error(dynamodb.get_item, TableName=f"{name}-absent", Key={"k": {"S": "a"}}))
    ssm.put_parameter(Name=f"/{name}/p", Value="v", Type="SecureString")
    told.append(ssm.get_parameter(Name=f"/{name}/p", WithDecryption=True)["Parameter"]["Value"])
    secrets.create_secret(Name=name, SecretString="s")
    told.append(secrets.get_secret_value(SecretId=name)["SecretString"])
    told.append(error(secrets.get_secret_value, SecretId=f"{name}-absent"))
    return told


def test_signed_calls_go_to_the_handler_the_server_would_pick_and_answer_as_over_http(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botocore import UNSIGNED
    from botocore.config import Config
    from qqbus.local import in_process_aws

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    whole: list[str] = []  # requests that went through the server's application, not straight to a handler
    through_wsgi = in_process_aws._through_wsgi
    monkeypatch.setattr(
        in_process_aws,
        "_through_wsgi",
        lambda app, request, url: whole.append(url.path) or through_wsgi(app, request, url),
    )
    try:
        over_http = story(endpoint, "over-http")
        answer_in_process(endpoint)
        in_process = story(endpoint, "in-process")
        assert in_process == over_http and whole == []
        assert in_process[0] == f"{endpoint}/123456789012/Q" and in_process[4] == (
            "AWS.SimpleQueueService.NonExistentQueue",
            400,
        )
        # An unsigned request names no service: the server's application routes it, as over HTTP.
        unsigned = boto3.client(
            "sqs", endpoint_url=endpoint, region_name="us-east-1", config=Config(signature_version=UNSIGNED)
        )
        with contextlib.suppress(Exception):  # moto makes an error of it (an SQS call routed to S3)
            unsigned.list_queues()
        assert whole == ["/"]
    finally:
        stop_answering(endpoint)
        server.stop()


def test_a_row_key_the_table_refuses_gives_no_diff_rather_than_a_failure() -> None:
    """Group ids come from event payloads: an empty or partial key must not fail an invocation."""
    from types import SimpleNamespace

    from moto import mock_aws
    from qqbus.local.console.app import Watch
    from qqbus.local.in_process_aws import read_item

    keys = [
        {"AttributeName": "bot_id", "KeyType": "HASH"},
        {"AttributeName": "group_id", "KeyType": "RANGE"},
    ]
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(
            TableName="groups",
            KeySchema=keys,
            AttributeDefinitions=[{"AttributeName": k["AttributeName"], "AttributeType": "S"} for k in keys],
            BillingMode="PAY_PER_REQUEST",
        )
        assert read_item("us-east-1", "groups", {"bot_id": {"S": "1"}, "group_id": {"S": ""}}) is None
        with pytest.raises(Exception, match="ValidationException"):  # half a key: what GetItem says
            read_item("us-east-1", "groups", {"bot_id": {"S": "1"}})
        console: Any = SimpleNamespace(region="us-east-1")
        for key in ({"bot_id": "1", "group_id": ""}, {"bot_id": "1"}):
            watch = Watch(console, "groups", key)
            assert watch.before is None and watch.changes() == {}
