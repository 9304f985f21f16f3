"""The one clipping rule (``funcroute._text.clip``) and the call sites that use it."""

from __future__ import annotations

import pytest

from funcroute._text import TRUNCATION_MARKER, clip


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        ("short", 10, "short"),
        ("exact", 5, "exact"),
        ("abcdefgh", 5, "abcde [... truncated 3 characters]"),
        ("abc", 0, " [... truncated 3 characters]"),
        ("", 0, ""),
        ("anything at all", None, "anything at all"),
    ],
)
def test_default_marker(text: str, limit: int | None, expected: str) -> None:
    assert clip(text, limit) == expected


def test_custom_markers() -> None:
    assert clip("abcdef", 2, "...[truncated]") == "ab...[truncated]"
    assert clip("abcdef", 2, "... ({total} characters)") == "ab... (6 characters)"
    assert clip("abcdef", 2, "...") == "ab..."


def test_marker_constant_names_the_count() -> None:
    assert TRUNCATION_MARKER.format(count=7) == " [... truncated 7 characters]"


def test_negative_limit_is_refused() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        clip("abc", -1)


def test_unicode_is_cut_by_characters() -> None:
    assert clip("ééé😀😀", 4, "…") == "ééé😀…"


def test_assertion_messages_clip_long_replies() -> None:
    from funcroute.testing.assertions import _show_reply

    lines = _show_reply("x" * 5000)
    assert lines[0] == "reply:"
    assert lines[1].endswith("... (5000 characters)") and len(lines[1]) < 5000
