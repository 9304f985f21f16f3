"""The per-call records filled without ``object.__setattr__`` still behave as frozen dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from funcroute import Router, ToolSet
from funcroute.backends.base import Completion, Request
from funcroute.backends.scripted import ScriptedBackend
from funcroute.routing.repair import Conversation
from funcroute.routing.results import Attempt
from funcroute.routing.selector import Selection
from funcroute.tools.call import Call
from funcroute.tools.validators import Validated

COMPLETION = Completion("reply", "length", 3, 4, 0.5, 2)
RECORDS: list[Any] = [
    Request("prompt", ("</s>",), 32, None, "command", "yaml", {"type": "object"}, "plan", None, {"k": 1}),
    COMPLETION,
    Attempt("prompt", "reply", None, COMPLETION, 0.25, 0.125),
    Validated({"a": 1}, (1,), {"b": 2}),
]


@pytest.mark.parametrize("record", RECORDS, ids=lambda r: type(r).__name__)
def test_record_is_a_frozen_dataclass(record: Any) -> None:
    fields = [f.name for f in dataclasses.fields(record)]
    assert list(vars(record)) == fields  # every field set, in order, nothing else
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(record, fields[0], "changed")
    copy = dataclasses.replace(record)
    assert copy == record and copy is not record
    assert repr(copy) == repr(record)
    changed = dataclasses.replace(record, **{fields[0]: "other"})
    assert getattr(changed, fields[0]) == "other" and changed != record


def test_defaults_are_the_dataclass_defaults() -> None:
    request = Request("p")
    assert (request.stop, request.max_new_tokens, request.stop_when, request.user_input) == (
        (),
        256,
        None,
        None,
    )
    assert (request.format, request.schema, request.kind, request.grammar, request.extra) == (
        "json",
        None,
        "call",
        None,
        {},
    )
    # No extra given: one shared mapping, read-only so that no request can change another's.
    with pytest.raises(TypeError):
        Request("p").extra["temperature"] = 0.5  # type: ignore[index]
    assert Request("p").extra == {} and Request("q", extra={"seed": 1}).extra == {"seed": 1}
    assert Completion("t") == Completion("t", "stop", None, None, 0.0, None)
    assert Attempt("p", "r", None, COMPLETION) == Attempt("p", "r", None, COMPLETION, 0.0, 0.0)
    assert Request(prompt="p", user_input="c") == Request("p", user_input="c")  # keywords still work


CALL = Call("f", {"a": 1})
MUTABLE: list[Any] = [
    Conversation("command", "turn", [("u", "r")], [], None, None, {"tools": None}),
    Selection(CALL, [], "model", "why", {"a": "span"}),
]


@pytest.mark.parametrize("record", MUTABLE, ids=lambda r: type(r).__name__)
def test_hand_written_init_keeps_the_dataclass(record: Any) -> None:
    fields = [f.name for f in dataclasses.fields(record)]
    assert list(vars(record)) == fields  # every field set, in order, nothing else
    copy = dataclasses.replace(record)
    assert copy == record and copy is not record and repr(copy) == repr(record)
    by_keyword = type(record)(**{name: getattr(record, name) for name in fields})
    assert by_keyword == record


def test_mutable_defaults_are_fresh_per_instance() -> None:
    first, second = Conversation("c", "t"), Conversation("c", "t")
    assert (first.history, first.attempts, first.result, first.error, first.context) == (
        [],
        [],
        None,
        None,
        {},
    )
    assert first.history is not second.history and first.attempts is not second.attempts
    assert first.context is not second.context
    one, two = Selection(CALL), Selection(CALL)
    assert (one.attempts, one.path, one.reason, one.provenance) == ([], "", "", {})
    assert one.attempts is not two.attempts and one.provenance is not two.provenance


def test_the_written_out_repair_round_records_what_absorb_records() -> None:
    """RepairLoop.run (sync, absorb() inlined) and route_many (absorb()) give the same attempts."""
    tools = ToolSet()

    @tools.tool
    def double(x: int) -> int:
        """Double a number.

        Args:
            x: the number.
        """
        return 2 * x

    replies = ['{"function": "triple", "params": {"x": 2}}', '{"function": "double", "params": {"x": 2}}']
    routed = Router(tools, ScriptedBackend(replies)).route("double 2")
    batched = Router(tools, ScriptedBackend(replies)).route_many(["double 2"], progress=False)[0]
    for result in (routed, batched):
        assert result.value == 4 and result.reason == "scripted replied with a valid call after 1 repair"
        assert all(a.generate_s >= 0 and a.parse_s >= 0 for a in result.attempts)
    assert [(a.prompt, a.reply, str(a.error)) for a in routed.attempts] == [
        (a.prompt, a.reply, str(a.error)) for a in batched.attempts
    ]
    assert "triple" in routed.attempts[1].prompt  # the repair turn quotes the mistake
