"""Bytes over 10 MiB: QQ's multi-part upload, on moto, against the fake QQ OpenAPI over a real
socket (its presigned part URLs included).

The requests asserted are nonebot-adapter-qq's (``post_group_upload`` / ``post_c2c_upload``) for
the same bytes, field by field: ``upload_prepare`` {file_type, file_name, file_size, md5, sha1,
md5_10m of the first 10 MiB}; part ``i`` of ``parts`` is bytes ``[i * block_size, (i + 1) *
block_size)``, PUT to its presigned URL, then ``upload_part_finish`` {upload_id, part_index,
block_size, md5}; ``/files`` {upload_id}. botpy has no multi-part upload."""

from __future__ import annotations

import base64
import hashlib
import random
import time
from typing import Any

import pytest
from qqbus.actions import Segment
from qqbus.events.qq import C2CMessageCreate
from qqbus.senders import qq_message
from qqbus.senders.outcome import SendContext
from qqbus.senders.qq import QqSend, prepare
from qqbus_dev.fake_apis import FakeQQApi

from tests.conftest import BusTap
from tests.senders.conftest import Send, Waits, outbox, results
from tests.senders.test_qq_rich import GROUP, reply, sent_body
from tests.support import SAMPLES, load_json

MIB = 1024 * 1024
#: Just over the one-request limit, so that md5_10m covers part of the file only.
BIG = random.Random(23).randbytes(10 * MIB + 5)


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def c2c_message() -> C2CMessageCreate:
    raw = load_json(SAMPLES / "qq" / "official_c2c_message_create.json")
    raw["d"]["timestamp"] = int(time.time()) - 5
    return C2CMessageCreate.model_validate(raw)


def test_bytes_over_10_mib_go_in_parts_as_nonebot_adapter_qq_sends_them(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap
) -> None:
    assert qq_send(reply(["the log", Segment.file(BIG)]))["status"] == "sent"
    chat = f"/v2/groups/{GROUP}"
    prepare_, *steps = fake_qq.upload_steps()
    assert prepare_.path == f"{chat}/upload_prepare"
    assert prepare_.body == {
        "file_type": 4,
        "file_name": "default",
        "file_size": len(BIG),
        "md5": md5(BIG),
        "sha1": hashlib.sha1(BIG).hexdigest(),
        "md5_10m": md5(BIG[: 10 * MIB]),
    }
    upload_id, size = prepare_.answer["upload_id"], prepare_.answer["block_size"]
    chunks = [BIG[i : i + size] for i in range(0, len(BIG), size)]
    assert [len(c) for c in chunks] == [4 * MIB, 4 * MIB, 2 * MIB + 5]
    puts, finishes = steps[0::2], steps[1::2]
    assert [(p.method, p.path.split("?")[0], p.body) for p in puts] == [
        ("PUT", f"/_cos/{upload_id}/{i}", {"bytes": len(c), "md5": md5(c)}) for i, c in enumerate(chunks, 1)
    ]
    assert all("authorization" not in p.headers for p in puts)  # the URL is signed; no QQ token
    assert [(f.path, f.body) for f in finishes] == [
        (
            f"{chat}/upload_part_finish",
            {"upload_id": upload_id, "part_index": i, "block_size": len(c), "md5": md5(c)},
        )
        for i, c in enumerate(chunks, 1)
    ]
    (complete,) = fake_qq.uploads()
    assert (complete.path, complete.body) == (f"{chat}/files", {"upload_id": upload_id})
    body = sent_body(fake_qq)
    assert (body["msg_type"], body["content"]) == (7, "the log")
    assert body["media"] == {"file_info": complete.answer["file_info"]}
    # the upload is no message: one reply slot, taken by the message
    assert body["msg_seq"] == 1 and [r["msg_seq"] for r in results(event_bus)] == [1]
    assert all("msg_seq" not in (r.body if isinstance(r.body, dict) else {}) for r in [prepare_, *steps])


def test_c2c_parts_go_to_the_users_endpoints_with_the_segments_name(
    qq_send: Send, fake_qq: FakeQQApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qq_message, "MAX_FILE_DATA_BYTES", 16)
    fake_qq.part_size = 8
    data = bytes(range(20))
    segment = Segment(
        type="video", data={"file": "base64://" + base64.b64encode(data).decode(), "name": "clip.mp4"}
    )
    message = c2c_message()
    assert qq_send(outbox().reply(message, segment))["status"] == "sent"
    chat = f"/v2/users/{message.d.author.user_openid}"
    paths = [r.path.split("?")[0] for r in fake_qq.upload_steps() + fake_qq.uploads()]
    assert paths[0] == f"{chat}/upload_prepare" and paths[-1] == f"{chat}/files"
    assert paths.count(f"{chat}/upload_part_finish") == 3  # 8 + 8 + 4 bytes
    prepared = fake_qq.upload_steps()[0].body
    assert (prepared["file_type"], prepared["file_name"], prepared["file_size"]) == (2, "clip.mp4", 20)
    assert prepared["md5_10m"] == md5(data)  # the whole file is shorter than 10 MiB
    (sent,) = fake_qq.messages()
    assert sent.path == f"{chat}/messages" and sent.body["msg_type"] == 7


def test_bytes_at_the_limit_still_go_in_one_request(
    qq_send: Send, fake_qq: FakeQQApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qq_message, "MAX_FILE_DATA_BYTES", 16)
    assert qq_send(reply(Segment.image(bytes(16))))["status"] == "sent"
    assert fake_qq.upload_steps() == []
    (upload,) = fake_qq.uploads()
    assert upload.body == {
        "file_type": 1,
        "file_data": base64.b64encode(bytes(16)).decode(),
        "srv_send_msg": False,
    }


def test_a_medium_sent_in_parts_is_uploaded_once_within_its_ttl(
    qq_send: Send, fake_qq: FakeQQApi, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qq_message, "MAX_FILE_DATA_BYTES", 16)
    fake_qq.part_size = 16
    medium = Segment.file(bytes(range(40)))
    assert qq_send(reply(medium, index=0))["status"] == "sent"
    assert qq_send(reply(["again", medium], index=1))["status"] == "sent"
    assert len([r for r in fake_qq.upload_steps() if r.path.endswith("/upload_prepare")]) == 1
    first, second = fake_qq.messages()
    assert first.body["media"] == second.body["media"]
    assert [first.body["msg_seq"], second.body["msg_seq"]] == [1, 2]
    # the same bytes under another name are another file
    named = Segment(type="file", data={**medium.data, "name": "other.bin"})
    assert qq_send(reply(named, index=2))["status"] == "sent"
    assert len([r for r in fake_qq.upload_steps() if r.path.endswith("/upload_prepare")]) == 2


def test_a_refused_step_fails_the_send_naming_it_and_sends_no_message(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qq_message, "MAX_FILE_DATA_BYTES", 16)
    fake_qq.fail_next(400, {"code": 850030, "message": "file too large"})
    assert qq_send(reply(Segment.video(bytes(17))))["status"] == "failed"
    (result,) = results(event_bus)
    assert (result["code"], result["message"]) == (850030, "media upload: file too large")
    assert fake_qq.messages() == [] and fake_qq.part_uploads == {}


def test_a_part_answered_503_is_put_again(
    qq_send: Send, fake_qq: FakeQQApi, waits: Waits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qq_message, "MAX_FILE_DATA_BYTES", 16)
    original = fake_qq.answer_method
    failed: list[str] = []

    def busy_storage_once(method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, Any]:
        if method == "PUT" and not failed:
            failed.append(path)
            return 503, {"code": "SlowDown"}
        return original(method, path, headers, body)

    monkeypatch.setattr(fake_qq, "answer_method", busy_storage_once)
    assert qq_send(reply(Segment.file(bytes(17))))["status"] == "sent"
    assert failed and len(waits.slept) == 1
    assert [r.status for r in fake_qq.received if r.method == "PUT"] == [503, 200]


def test_an_upload_prepare_answer_that_does_not_hold_the_file_is_refused(
    qq_send: Send, fake_qq: FakeQQApi, event_bus: BusTap, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fewer parts than the bytes need: nothing is PUT (the file would arrive cut short)."""
    monkeypatch.setattr(qq_message, "MAX_FILE_DATA_BYTES", 16)
    original = fake_qq._prepare

    def one_part_short(chat: tuple[str, str], body: dict[str, Any]) -> tuple[int, Any]:
        status, answer = original(chat, body)
        return status, {**answer, "parts": answer["parts"][:-1]}

    monkeypatch.setattr(fake_qq, "_prepare", one_part_short)
    fake_qq.part_size = 8
    assert qq_send(reply(Segment.file(bytes(17))))["status"] == "failed"
    (result,) = results(event_bus)
    assert result["reason"] == "qq_bad_upload_prepare" and "2 parts of 8 bytes" in result["message"]
    assert [r for r in fake_qq.received if r.method == "PUT"] == []


def test_what_the_relay_receives_keeps_the_multi_part_upload(
    fake_qq: FakeQQApi, aws_tables: dict[str, str], waits: Waits, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(qq_message, "MAX_FILE_DATA_BYTES", 16)
    send = prepare(reply(Segment.file(bytes(17))), SendContext(retrying=waits.policy()))
    assert isinstance(send, QqSend) and send.upload is not None and send.upload.in_parts
    relayed = QqSend.model_validate_json(send.model_dump_json(exclude_none=True))
    assert relayed.upload == send.upload
    assert relayed.upload is not None and set(relayed.upload.body) == {"file_type", "file_name", "file_data"}


def test_the_fake_checks_each_step_against_what_came_before(fake_qq: FakeQQApi) -> None:
    """The fake refuses what a wrong client would send, so the tests above can fail."""
    fake_qq.part_size = 4
    data = bytes(range(10))
    good = {
        "file_type": 4,
        "file_name": "f",
        "file_size": 10,
        "md5": md5(data),
        "sha1": hashlib.sha1(data).hexdigest(),
        "md5_10m": md5(data),
    }
    chat = ("groups", "G")
    assert fake_qq._prepare(chat, {**good, "file_size": "10"})[0] == 400
    assert fake_qq._prepare(chat, {**good, "srv_send_msg": False})[0] == 400
    status, answer = fake_qq._prepare(chat, good)
    assert status == 200 and [p["index"] for p in answer["parts"]] == [1, 2, 3]
    upload_id = answer["upload_id"]
    url = answer["parts"][0]["presigned_url"].removeprefix(fake_qq.url)
    assert fake_qq._put_part(url.replace("sign=", "sign=x"), {}, data[:4])[0] == 403
    assert fake_qq._put_part(url, {"authorization": "QQBot t"}, data[:4])[0] == 400
    for part in answer["parts"]:
        i = part["index"]
        assert (
            fake_qq._put_part(part["presigned_url"].removeprefix(fake_qq.url), {}, data[(i - 1) * 4 : i * 4])[
                0
            ]
            == 200
        )
    finish = {"upload_id": upload_id, "part_index": 1, "block_size": 4, "md5": md5(data[:4])}
    assert fake_qq._part_finish(chat, {**finish, "md5": md5(b"x")})[0] == 400
    assert fake_qq._complete(chat, {"upload_id": upload_id})[0] == 400  # parts not finished
    for i in (1, 2, 3):
        part = data[(i - 1) * 4 : i * 4]
        assert (
            fake_qq._part_finish(
                chat, {**finish, "part_index": i, "block_size": len(part), "md5": md5(part)}
            )[0]
            == 200
        )
    assert fake_qq._complete(("users", "U"), {"upload_id": upload_id})[0] == 400  # another chat
    assert fake_qq._complete(chat, {"upload_id": upload_id, "srv_send_msg": False})[0] == 400
    status, answer = fake_qq._complete(chat, {"upload_id": upload_id})
    assert status == 200 and answer["file_info"] in fake_qq.issued


def test_the_fake_refuses_an_md5_10m_over_another_length(fake_qq: FakeQQApi) -> None:
    """md5_10m over 10002432 bytes (other SDKs' length) is not nonebot-adapter-qq's: refused."""
    fake_qq.part_size = 8 * MIB
    data = BIG
    body = {
        "file_type": 4,
        "file_name": "f",
        "file_size": len(data),
        "md5": md5(data),
        "sha1": hashlib.sha1(data).hexdigest(),
        "md5_10m": md5(data[:10002432]),
    }
    chat = ("groups", "G")
    _, answer = fake_qq._prepare(chat, body)
    for i, part in enumerate(answer["parts"]):
        chunk = data[i * 8 * MIB : (i + 1) * 8 * MIB]
        fake_qq._put_part(part["presigned_url"].removeprefix(fake_qq.url), {}, chunk)
        fake_qq._part_finish(
            chat,
            {
                "upload_id": answer["upload_id"],
                "part_index": part["index"],
                "block_size": len(chunk),
                "md5": md5(chunk),
            },
        )
    status, refused = fake_qq._complete(chat, {"upload_id": answer["upload_id"]})
    assert status == 400 and "md5_10m" in refused["message"]
