"""The demo's tools: small, real functions that show each kind of parameter the router fills.

``file_analytics`` is the seed tool from the Airoboros model card, here working over a real text
file. The others take numbers, choices, dates, e-mail addresses and quoted text. ``send_email`` does
not send anything: it writes the message into an outbox folder and returns the file's path.

    tools = build_demo_tools(Path("notes.txt"), outbox=Path("outbox"))
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from funcroute.tools.toolset import ToolSet

__all__ = ["SAMPLE_TEXT", "Filters", "build_demo_tools"]

SAMPLE_TEXT = """Python is a programming language that lets you work quickly.
Many teams write their services in Python, and some write them in Go.
The python (the snake) is not related to Python the language.
A snake sheds its skin several times a year.
"""

Unit = Literal["celsius", "fahrenheit", "kelvin"]


class Filters(BaseModel):
    """What to look for."""

    keyword: str = Field(description="The word or phrase we want to search for.")


def _to_kelvin(value: float, unit: Unit) -> float:
    if unit == "celsius":
        return value + 273.15
    if unit == "fahrenheit":
        return (value - 32) * 5 / 9 + 273.15
    return value


def build_demo_tools(text_file: Path, outbox: Path) -> ToolSet:
    """The demo ToolSet: ``file_analytics`` reads ``text_file``; ``send_email`` writes to ``outbox``."""
    tools = ToolSet()

    @tools.tool
    def file_analytics(
        action: Annotated[
            Literal["count_occurrences", "find_line"],
            Field(
                description='The operation we want to perform on the data, such as "count_occurrences", '
                '"find_line", etc.'
            ),
        ],
        filters: Filters,
    ) -> str:
        """This tool performs various operations on a text file."""
        lines = text_file.read_text(encoding="utf-8").splitlines()
        if action == "count_occurrences":
            count = sum(line.count(filters.keyword) for line in lines)
            return f"{filters.keyword!r} occurs {count} times in {text_file.name}"
        found = [n for n, line in enumerate(lines, 1) if filters.keyword in line]
        return f"{filters.keyword!r} is on lines {found} of {text_file.name}"

    @tools.tool
    def convert_temperature(value: float, from_unit: Unit, to_unit: Unit) -> str:
        """Convert a temperature from one unit to another.

        Args:
            value: The temperature to convert.
            from_unit: The unit the temperature is given in.
            to_unit: The unit to convert the temperature to.
        """
        kelvin = _to_kelvin(value, from_unit)
        result = {"kelvin": kelvin, "celsius": kelvin - 273.15, "fahrenheit": (kelvin - 273.15) * 9 / 5 + 32}
        return f"{value:g} {from_unit} = {result[to_unit]:.1f} {to_unit}"

    @tools.tool
    def triangle_area(base: float, height: float) -> float:
        """Calculate the area of a triangle from its base and height.

        Args:
            base: The length of the triangle's base.
            height: The triangle's height.
        """
        return base * height / 2

    @tools.tool
    def days_between(start_date: dt.date, end_date: dt.date) -> int:
        """Count the days between two dates.

        Args:
            start_date: The first date.
            end_date: The second date.
        """
        return (end_date - start_date).days

    @tools.tool
    def send_email(to: str, subject: str, body: str) -> str:
        """Send an e-mail message to someone.

        Args:
            to: The recipient's e-mail address.
            subject: The subject line of the e-mail.
            body: The text of the message.
        """
        outbox.mkdir(parents=True, exist_ok=True)
        path = outbox / f"{len(list(outbox.iterdir())) + 1:03d}.eml"
        path.write_text(f"To: {to}\nSubject: {subject}\n\n{body}\n", encoding="utf-8")
        return f"written to {path.name} in the outbox (nothing was sent)"

    return tools
