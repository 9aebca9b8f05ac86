"""The dev stack's own AWS calls reach its moto without a socket, and answer as over HTTP."""

from __future__ import annotations

import subprocess
import sys

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
