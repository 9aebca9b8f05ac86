"""The moto speed-ups change the time only: each mock still starts empty and answers the same."""

from __future__ import annotations

from typing import Any

import boto3
import botocore.session
import jsonpath_ng.ext
from moto import mock_aws
from qqbus.local.moto_speedups import cache_jsonpath_parsing, share_botocore_loader


def table_t() -> Any:
    """A DynamoDB client of the running mock, with table ``t`` (hash key ``k``) made."""
    dynamodb = boto3.client("dynamodb")
    dynamodb.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return dynamodb


def test_sessions_share_one_loader_and_each_mock_still_starts_empty() -> None:
    share_botocore_loader()
    share_botocore_loader()  # idempotent: not a cache around a cache
    with mock_aws():
        first = table_t()
        assert first.list_tables()["TableNames"] == ["t"]
        loader = boto3.DEFAULT_SESSION._session.get_component("data_loader")  # type: ignore[union-attr]
    with mock_aws():
        second = boto3.client("dynamodb")
        assert boto3.DEFAULT_SESSION._session.get_component("data_loader") is loader  # type: ignore[union-attr]
        assert second is not first and second.list_tables()["TableNames"] == []
    assert botocore.session.create_loader.cache_info().hits >= 1  # type: ignore[attr-defined]


def test_jsonpath_parses_are_cached_and_equal() -> None:
    cache_jsonpath_parsing()
    assert jsonpath_ng.ext.parse("$.detail") is jsonpath_ng.ext.parse("$.detail")
    assert [m.value for m in jsonpath_ng.ext.parse("$.detail.a").find({"detail": {"a": 1}})] == [1]


def test_the_module_list_is_read_once_and_unchanged() -> None:
    import os

    import moto
    from moto import backends
    from qqbus.local.moto_speedups import cache_moto_module_list

    cache_moto_module_list()
    cache_moto_module_list()
    folder = os.path.dirname(moto.__file__)
    on_disk = sorted(
        e for e in os.listdir(folder) if os.path.isdir(os.path.join(folder, e)) and not e.startswith("__")
    )
    assert list(backends.list_of_moto_modules()) == on_disk and "dynamodb" in on_disk
    assert backends.list_of_moto_modules() is backends.list_of_moto_modules()  # the same tuple: read once


def test_the_retention_check_reads_the_period_and_still_drops_expired_messages() -> None:
    from moto.sqs.models import SQSBackend
    from qqbus.local.moto_speedups import quick_sqs_retention_check

    quick_sqs_retention_check()
    quick_sqs_retention_check()  # idempotent
    assert getattr(SQSBackend.is_message_valid_based_on_retention_period, "qqbus_quick", False)
    with mock_aws():
        sqs = boto3.client("sqs")
        short = sqs.create_queue(QueueName="short", Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
        sqs.send_message(QueueUrl=short, MessageBody="kept")
        assert [m["Body"] for m in sqs.receive_message(QueueUrl=short)["Messages"]] == ["kept"]

        from moto.sqs.models import sqs_backends

        backend = sqs_backends["123456789012"]["us-east-1"]
        sqs.send_message(QueueUrl=short, MessageBody="old")
        old = next(m for m in backend.get_queue("short")._messages if m.body == "old")
        old.sent_timestamp -= 61_000  # sent 61 s ago, past the queue's 60 s
        assert backend.is_message_valid_based_on_retention_period("short", old) is False
        assert "Messages" not in sqs.receive_message(QueueUrl=short, VisibilityTimeout=0)


def test_per_class_lookups_are_kept_and_updates_are_still_validated() -> None:
    import pytest
    from moto.core import responses
    from moto.dynamodb.parsing.validators import ActionCountValidator
    from qqbus.local.moto_speedups import cache_per_class_lookups

    cache_per_class_lookups()
    cache_per_class_lookups()  # idempotent
    assert responses.method_names_from_class.cache_info  # type: ignore[attr-defined]
    assert ActionCountValidator().nodes_to_be_processed() is ActionCountValidator().nodes_to_be_processed()
    with mock_aws():
        dynamodb = table_t()
        key = {"k": {"S": "a"}}
        dynamodb.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET n = :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        assert dynamodb.get_item(TableName="t", Key=key)["Item"]["n"] == {"N": "1"}
        with pytest.raises(
            dynamodb.exceptions.ClientError, match="SET"
        ):  # two SET clauses: refused as before
            dynamodb.update_item(
                TableName="t",
                Key=key,
                UpdateExpression="SET n = :one SET m = :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )
        with pytest.raises(dynamodb.exceptions.ClientError, match=r"overlap|Two document paths"):
            dynamodb.update_item(
                TableName="t",
                Key=key,
                UpdateExpression="SET n = :one, n = :one",
                ExpressionAttributeValues={":one": {"N": "1"}},
            )


def test_speed_up_moto_applies_every_speed_up() -> None:
    from moto import backends
    from moto.core import responses
    from moto.sqs.models import SQSBackend
    from qqbus.local.moto_speedups import speed_up_moto

    speed_up_moto()
    assert hasattr(jsonpath_ng.ext.parse, "cache_info")
    assert hasattr(backends.list_of_moto_modules, "cache_info")
    assert hasattr(responses.method_names_from_class, "cache_info")
    assert getattr(SQSBackend.is_message_valid_based_on_retention_period, "qqbus_quick", False)
    from moto.sqs import models

    assert getattr(models.unix_time, "qqbus_quick", False)
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from moto.dynamodb.parsing.validators import ActionCountValidator

    assert getattr(ConditionExpressionParser._lex_condition_expression, "qqbus_kept", False)
    assert getattr(ActionCountValidator.traverse, "qqbus_single_pass", False)
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser

    assert getattr(UpdateExpressionParser.make, "qqbus_cached", False)


def tree(node: Any) -> Any:
    """An update expression's tree as nested tuples: node type, own fields, children."""
    from moto.dynamodb.parsing.ast_nodes import Node  # type: ignore[attr-defined]

    if not isinstance(node, Node):
        return repr(node)
    fields = sorted((k, repr(v)) for k, v in vars(node).items() if k not in ("children", "parent"))
    return type(node).__name__, tuple(fields), tuple(tree(c) for c in node.children or ())


def test_update_expression_parses_are_kept_and_each_caller_gets_its_own_tree() -> None:
    import pytest
    from moto.dynamodb.parsing.expressions import UpdateExpressionParser
    from qqbus.local.moto_speedups import reuse_update_expression_parses

    reuse_update_expression_parses()
    reuse_update_expression_parses()  # idempotent: not a cache around a cache
    kept = UpdateExpressionParser.make.pickled  # type: ignore[attr-defined]
    expression = (
        "SET a = :v, b.c[1] = list_append(b.c, :l), #n = if_not_exists(#n, :z) + :one REMOVE x ADD s :s"
    )
    first, second = UpdateExpressionParser.make(expression), UpdateExpressionParser.make(expression)
    assert first is not second and first.children[0] is not second.children[0]  # trees of their own
    first.children.clear()  # a caller changing its tree changes nobody else's
    assert tree(UpdateExpressionParser.make(expression)) == tree(second)
    assert kept.cache_info().hits >= 2
    # The kept tree is the tree moto's own parse makes.
    from moto.dynamodb.parsing.expressions import ExpressionTokenizer

    fresh = UpdateExpressionParser(ExpressionTokenizer.make_list(expression)).parse()
    assert tree(second) == tree(fresh) and "UpdateExpressionRemoveClause" in str(tree(fresh))
    from moto.dynamodb.exceptions import InvalidTokenException

    for _ in range(2):  # refused each time: errors are not kept
        with pytest.raises(InvalidTokenException, match="Syntax error"):
            UpdateExpressionParser.make("SET = :v")


def test_updates_give_the_same_items_with_kept_parses() -> None:
    import pytest
    from qqbus.local.moto_speedups import reuse_update_expression_parses

    reuse_update_expression_parses()
    with mock_aws():
        dynamodb = table_t()
        key = {"k": {"S": "a"}}
        update = {
            "TableName": "t",
            "Key": key,
            "UpdateExpression": "SET n = if_not_exists(n, :zero) + :one,"
            " l = list_append(if_not_exists(l, :empty), :l) ADD s :s",
            "ExpressionAttributeValues": {
                ":zero": {"N": "0"},
                ":one": {"N": "1"},
                ":empty": {"L": []},
                ":l": {"L": [{"S": "x"}]},
                ":s": {"SS": ["p"]},
            },
        }
        dynamodb.update_item(**update)  # a new item: moto validates the tree twice
        dynamodb.update_item(**update)  # the same string again: the kept parse
        item = dynamodb.get_item(TableName="t", Key=key)["Item"]
        assert item["n"] == {"N": "2"} and item["l"] == {"L": [{"S": "x"}, {"S": "x"}]}
        assert item["s"] == {"SS": ["p"]}
        with pytest.raises(
            dynamodb.exceptions.ClientError, match="attribute value used in expression is not defined"
        ):
            dynamodb.update_item(**{**update, "ExpressionAttributeValues": {":one": {"N": "1"}}})
        dynamodb.update_item(TableName="t", Key=key, UpdateExpression="REMOVE l", ReturnValues="ALL_NEW")
        assert "l" not in dynamodb.get_item(TableName="t", Key=key)["Item"]


def test_sqs_reads_the_same_clock_and_still_hides_and_delays_messages() -> None:
    import time

    from moto.core.utils import unix_time_millis as datetime_millis
    from moto.sqs import models
    from qqbus.local.moto_speedups import quick_sqs_clock

    quick_sqs_clock()
    quick_sqs_clock()  # idempotent
    assert getattr(models.unix_time_millis, "qqbus_quick", False)
    assert abs(models.unix_time_millis() - datetime_millis()) < 50  # the same clock, in ms
    assert abs(models.unix_time() - time.time()) < 0.05
    with mock_aws():
        sqs = boto3.client("sqs")
        url = sqs.create_queue(QueueName="q")["QueueUrl"]

        def counts() -> tuple[str, str, str]:
            a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            return (
                a["ApproximateNumberOfMessages"],
                a["ApproximateNumberOfMessagesNotVisible"],
                a["ApproximateNumberOfMessagesDelayed"],
            )

        sqs.send_message(QueueUrl=url, MessageBody="now")
        sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
        assert counts() == ("1", "0", "1")
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
        assert [m["Body"] for m in got] == ["now"]  # the delayed one stays back
        assert counts() == ("0", "1", "1")
        assert "Messages" not in sqs.receive_message(QueueUrl=url)  # in flight: hidden
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0
        )
        later = next(
            m
            for m in models.sqs_backends["123456789012"]["us-east-1"].get_queue("q")._messages
            if m.body == "later"
        )
        later.delayed_until = models.unix_time_millis() - 1  # its delay is over
        again = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
        assert sorted(m["Body"] for m in again) == ["later", "now"]


def test_update_clause_counts_in_one_pass_raise_as_moto_does() -> None:
    from moto.dynamodb.parsing.ast_nodes import DepthFirstTraverser  # type: ignore[attr-defined]
    from moto.dynamodb.parsing.expressions import ExpressionTokenizer, UpdateExpressionParser
    from moto.dynamodb.parsing.validators import ActionCountValidator
    from qqbus.local.moto_speedups import count_update_clauses_once

    count_update_clauses_once()
    count_update_clauses_once()  # idempotent
    assert getattr(ActionCountValidator.traverse, "qqbus_single_pass", False)

    def outcome(traverse: Any, expression: str) -> str:
        tree = UpdateExpressionParser(ExpressionTokenizer.make_list(expression)).parse()
        try:
            return "ok" if traverse(ActionCountValidator(), tree) is tree else "another tree"
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"

    expressions = [
        "SET a = :v",
        "SET a = :v, b = list_append(if_not_exists(b, :e), :l) REMOVE c ADD d :n DELETE s :s",
        "SET a = :v SET b = :v",
        "REMOVE a REMOVE b",
        "ADD a :v ADD b :v",
        "SET a = :v ADD b :v SET c = :v",
        "ADD a :v SET b = :v ADD c :v SET d = :v",  # two kinds doubled: the one moto names
        "SET a = :v REMOVE b SET c = :v REMOVE d",
        "DELETE s :s DELETE t :t",  # moto does not count DELETE: neither do we
    ]
    outcomes = {e: outcome(ActionCountValidator.traverse, e) for e in expressions}
    assert outcomes == {e: outcome(DepthFirstTraverser.traverse, e) for e in expressions}
    assert (
        outcomes["SET a = :v SET b = :v"].startswith("TooManyClauses")
        and "SET" in outcomes["SET a = :v SET b = :v"]
    )
    assert [e for e, o in outcomes.items() if o == "ok"] == [*expressions[:2], expressions[-1]]


def test_condition_tokens_are_kept_per_string_and_parses_still_read_names_and_values() -> None:
    import pytest
    from moto.dynamodb.comparisons import ConditionExpressionParser
    from qqbus.local.moto_speedups import keep_condition_tokens

    keep_condition_tokens()
    keep_condition_tokens()  # idempotent
    lex = ConditionExpressionParser._lex_condition_expression
    original = lex.original  # type: ignore[attr-defined]
    expression = (
        "(attribute_not_exists(#c) OR #c < :at OR (#c = :at AND size(#l) > :n)) AND NOT #s IN (:a, :b)"
    )
    parser = ConditionExpressionParser(expression, {}, {})
    first = lex(parser)
    assert list(first) == list(original(parser))
    first[0].children.append("changed")  # a parse building on its nodes changes no later parse
    assert list(lex(parser)) == list(original(parser))
    with mock_aws():
        dynamodb = table_t()
        key = {"k": {"S": "a"}}
        put = {
            "TableName": "t",
            "Item": {**key, "c": {"N": "5"}},
            "ConditionExpression": "attribute_not_exists(#c) OR #c < :at",
            "ExpressionAttributeNames": {"#c": "c"},
        }
        dynamodb.put_item(**put, ExpressionAttributeValues={":at": {"N": "1"}})
        with pytest.raises(dynamodb.exceptions.ConditionalCheckFailedException):  # 5 < 1: no
            dynamodb.put_item(**put, ExpressionAttributeValues={":at": {"N": "1"}})
        dynamodb.put_item(**put, ExpressionAttributeValues={":at": {"N": "9"}})  # same string, 5 < 9
        renamed = {**put, "ExpressionAttributeNames": {"#c": "other"}}  # names still read: no "other" yet
        dynamodb.put_item(**renamed, ExpressionAttributeValues={":at": {"N": "1"}})
