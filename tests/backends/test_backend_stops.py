"""The one stop rule every backend applies (``funcroute.backends._stops.stop_index``)."""

from __future__ import annotations

import pytest

from funcroute.backends._stops import stop_index


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("no stop here", ("USER:",), None),
        ('{"a": 1}USER: next', ("USER:",), 8),
        ("a</s>b\nUSER:", ("\nUSER:", "</s>"), 1),  # the earliest stop wins, whatever its order
        ("abc", ("", "zz"), None),  # an empty stop string never matches
        ("USER: at once", ("USER:",), 0),
        ("", ("x",), None),
    ],
)
def test_earliest_stop_string(text: str, stops: tuple[str, ...], expected: int | None) -> None:
    assert stop_index(text, stops) == expected


def test_detector_alone() -> None:
    assert stop_index('{"a": 1} trailing', (), lambda t: t.find("}") + 1 or None) == 8
    assert stop_index("still going", (), lambda t: None) is None


def test_detector_sees_only_the_text_before_the_first_stop() -> None:
    seen: list[str] = []

    def detector(text: str) -> int | None:
        seen.append(text)
        return None

    assert stop_index("keep USER: gone", ("USER:",), detector) == 5
    assert seen == ["keep "]


def test_detector_earlier_than_the_stop_wins() -> None:
    assert stop_index('{"x": 2} more\nUSER:', ("\nUSER:",), lambda t: t.find("}") + 1 or None) == 8


@pytest.mark.parametrize(("answer", "expected"), [(-3, 0), (99, 4), (2, 2)])
def test_detector_answer_is_clamped_into_the_text(answer: int, expected: int) -> None:
    assert stop_index("abcd", (), lambda t: answer) == expected
    # with a stop string, clamped into the text before it
    assert stop_index("abcdUSER:zz", ("USER:",), lambda t: answer) == expected


def test_detector_errors_propagate() -> None:
    def broken(text: str) -> int | None:
        raise RuntimeError("detector bug")

    with pytest.raises(RuntimeError, match="detector bug"):
        stop_index("abc", (), broken)
