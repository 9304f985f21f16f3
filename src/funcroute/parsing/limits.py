"""Bounds every reply is read under: size, nesting depth and candidates tried."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_LIMITS", "ParseLimits"]


@dataclass(frozen=True)
class ParseLimits:
    """Bounds applied to every reply before and after parsing.

    Attributes:
        max_chars: longest reply accepted (characters of text; 64 KiB by default).
        max_depth: deepest nesting of lists/objects accepted.
        max_candidates: most candidate documents tried per reply (bounds time on hostile text).
    """

    max_chars: int = 65536
    max_depth: int = 32
    max_candidates: int = 16


# The defaults, for callers without a ToolSet. Readers take the limits (or their max_depth) as an
# argument everywhere: a class attribute read in a helper would ignore a ToolSet's own limits.
DEFAULT_LIMITS = ParseLimits()
