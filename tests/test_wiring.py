"""handlers/, template.yaml and events/ agree: a missing piece fails here, naming the fix."""

from __future__ import annotations

from qqbus_dev.template import Template

from tests.support import (
    CONTRACT,
    EVENTS,
    HANDLERS,
    SENDERS,
    SOURCE_HANDLERS,
    SUB_TYPES,
    handler_folders,
    load_json,
)

INGRESS = {"qq_webhook", "onebot_http"}
FIX = "run `qqbus new handler <type> --name {folder}` (README, 'Add a handler')"


def test_every_handler_folder_has_exactly_one_function(template: Template) -> None:
    functions: dict[str, list[str]] = {}
    for fn in template.functions():
        functions.setdefault(fn.folder, []).append(fn.logical_id)
    problems = []
    for folder in sorted(handler_folders()):
        found = functions.get(folder, [])
        if not found:
            problems.append(
                f"handlers/{folder}/app.py has no function in template.yaml: nothing will run it."
                f" To wire it, move the folder aside, {FIX.format(folder=folder)}, and put your app.py back"
            )
        elif len(found) > 1:
            problems.append(f"handlers/{folder} is the code of several functions: {', '.join(found)}")
    assert problems == []


def test_every_function_has_its_code(template: Template) -> None:
    problems = [
        f"template.yaml's {fn.logical_id} runs {fn.code_uri} but handlers/{fn.folder}/app.py does not exist:"
        f" write it, or remove the block"
        for fn in template.functions()
        if not (HANDLERS / fn.folder / "app.py").exists()
    ]
    assert problems == []


def test_every_bus_function_has_an_events_file_of_its_type(template: Template) -> None:
    problems = []
    for fn in template.event_functions():
        path = EVENTS / f"{fn.folder}.json"
        if not path.exists():
            problems.append(
                f"events/{fn.folder}.json is missing (what `sam local invoke` and the tests send to"
                f" {fn.logical_id}): write an EventBridge event of its type, e.g. from ../shared/samples"
            )
            continue
        event = load_json(path)
        (source,) = fn.pattern["source"]
        if event.get("source") != source:
            problems.append(
                f"events/{fn.folder}.json has source {event.get('source')!r}, its rule takes {source!r}"
            )
        if "detail-type" not in fn.pattern:
            continue  # a whole source: any type of it
        (detail_type,) = fn.pattern["detail-type"]
        if isinstance(detail_type, dict):
            if not str(event.get("detail-type", "")).startswith(detail_type["prefix"]):
                problems.append(f"events/{fn.folder}.json is not a {detail_type['prefix']}* action")
        elif event.get("detail-type") != detail_type:
            problems.append(
                f"events/{fn.folder}.json is a {event.get('detail-type')!r}, its rule takes {detail_type!r}"
            )
    assert problems == []


def test_the_derived_contract_covers_every_handler(template: Template) -> None:
    assert handler_folders() == set(CONTRACT) | set(SUB_TYPES) | set(SENDERS) | set(SOURCE_HANDLERS) | INGRESS
