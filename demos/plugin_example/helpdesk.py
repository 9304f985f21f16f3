"""A small help-desk assistant: three tools a local Airoboros model routes commands to."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from funcroute import Router, ToolSet
from funcroute.backends.base import Backend

tools = ToolSet()


class Filters(BaseModel):
    keyword: str = Field(description="The word or phrase we want to search for.")


@tools.tool
def file_analytics(
    action: Annotated[
        str,
        Field(
            description='The operation we want to perform on the data, such as "count_occurrences", '
            '"find_line", etc.'
        ),
    ],
    filters: Filters,
) -> str:
    """This tool performs various operations on a text file."""
    return f"{action}: {filters.keyword}"


@tools.tool
def get_weather(city: str, units: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather for a city.

    Args:
        city: The city to look up, e.g. "Paris".
        units: Temperature units.
    """
    return f"22 degrees {units} in {city}"


@tools.tool(confirm=True)
def send_email(to: str, subject: str, body: str) -> str:
    """Send an email.

    Args:
        to: The recipient's email address.
        subject: The subject line.
        body: The message text.
    """
    return f"sent to {to}"


def build_router(backend: Backend) -> Router:
    """The router the help desk uses: two repair turns, JSON replies."""
    return Router(tools, backend, max_retries=2)
