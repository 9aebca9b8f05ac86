"""template.yaml: the bot data table (keys, TTL) and exactly the message functions that use it."""

from __future__ import annotations

import json

from qqbus_dev.template import Template

MESSAGE_FUNCTIONS = {
    "qq_group_at_message_create",
    "qq_c2c_message_create",
    "onebot_group_message",
    "onebot_private_message",
}


def test_the_table_has_bot_and_key_and_a_ttl(template: Template) -> None:
    props = template.resources["BotDataTable"]["Properties"]
    assert [(k["AttributeName"], k["KeyType"]) for k in props["KeySchema"]] == [
        ("bot_id", "HASH"),
        ("key", "RANGE"),
    ]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_the_message_functions_name_the_table_and_may_use_it(
    template: Template,
) -> None:
    using = set()
    for fn in template.functions():
        statements = [s for p in fn.properties.get("Policies", []) for s in p.get("Statement", [])]
        allowed = {a for s in statements if "BotDataTable" in json.dumps(s["Resource"]) for a in s["Action"]}
        named = "BOT_DATA_TABLE_NAME" in fn.environment
        assert named == bool(allowed), fn.folder
        if named:
            using.add(fn.folder)
            assert allowed == {
                "dynamodb:GetItem",
                "dynamodb:PutItem",
                "dynamodb:UpdateItem",
                "dynamodb:DeleteItem",
            }
    assert using >= MESSAGE_FUNCTIONS  # (and any other function that runs commands, e.g. buttons)
