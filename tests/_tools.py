"""Tools that many test modules share, defined once: the Airoboros seed tool and its relatives.

Plain module (tests/ is on sys.path through the rootdir conftest); test modules import what they
need and build their ToolSets from it, so the seed tool's schema and descriptions are one thing.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field

from funcroute import ToolSet

__all__ = ["Action", "Filters", "LimitFilters", "add_file_analytics", "file_analytics", "seed_tools"]

ACTION_DESCRIPTION = (
    'The operation we want to perform on the data, such as "count_occurrences", "find_line", etc.'
)
#: The seed example's ``action`` parameter, description included.
Action = Annotated[str, Field(description=ACTION_DESCRIPTION)]


# No model docstrings: pydantic would put them into the schemas the prompt snapshots pin.
class Filters(BaseModel):  # the seed example's ``filters``: one keyword
    keyword: str = Field(description="The word or phrase we want to search for.")


class LimitFilters(Filters):  # with an optional ``limit``, for defaults and nested validation
    limit: int = 10


def file_analytics(action: Action, filters: Filters) -> str:
    """This tool performs various operations on a text file."""
    return f"{action}:{filters.keyword}"


def _file_analytics_with_limit(action: Action, filters: LimitFilters) -> str:
    """This tool performs various operations on a text file."""
    return f"{action}:{filters.keyword}"


def add_file_analytics(tools: ToolSet, *, limit: bool = False) -> ToolSet:
    """Add ``file_analytics`` to ``tools`` (with :class:`LimitFilters` when ``limit``); return them."""
    tools.tool(name="file_analytics")(_file_analytics_with_limit if limit else file_analytics)
    return tools


def seed_tools(**options: Any) -> ToolSet:
    """A ToolSet holding only the seed example's ``file_analytics`` (``options`` go to ToolSet)."""
    return add_file_analytics(ToolSet(**options))
