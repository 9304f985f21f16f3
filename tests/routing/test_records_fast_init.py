"""The per-call records filled without ``object.__setattr__`` still behave as frozen dataclasses."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from funcroute.backends.base import Completion, Request
from funcroute.routing.results import Attempt
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
    assert Request("p").extra is not Request("p").extra  # a fresh dict each, as default_factory gave
    assert Completion("t") == Completion("t", "stop", None, None, 0.0, None)
    assert Attempt("p", "r", None, COMPLETION) == Attempt("p", "r", None, COMPLETION, 0.0, 0.0)
    assert Request(prompt="p", user_input="c") == Request("p", user_input="c")  # keywords still work
