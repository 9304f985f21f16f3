"""``funcroute demo``: the model card's example, end to end, with no model.

Renders the function-selection prompt for the seed tool, takes the reply the Airoboros model card
shows for it, parses and validates it, and runs the real handler over a sample text file.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Literal, TextIO

from pydantic import BaseModel, Field

from funcroute.prompts.templates import get_template
from funcroute.tools import ToolSet

__all__ = ["SEED_REPLY", "build_demo_tools", "run"]

SEED_INPUT = "I want to know how many times 'Python' is mentioned in my text file."
SEED_REPLY = """```json
{
  "function": "file_analytics",
  "params": {
    "action": "count_occurrences",
    "filters": {
      "keyword": "Python"
    }
  }
}
```"""
SAMPLE_TEXT = """Python is a programming language that lets you work quickly.
Many teams write their services in Python, and some write them in Go.
The python (the snake) is not related to Python the language.
"""


class Filters(BaseModel):
    """What to look for."""

    keyword: str = Field(description="The word or phrase we want to search for.")


def build_demo_tools(text_file: Path) -> ToolSet:
    """The seed ToolSet, with ``file_analytics`` working over ``text_file``."""
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

    return tools


def run(out: TextIO) -> int:
    """Print the whole pipeline for the seed example; returns the exit code."""
    with tempfile.TemporaryDirectory() as tmp:
        text_file = Path(tmp) / "notes.txt"
        text_file.write_text(SAMPLE_TEXT, encoding="utf-8")
        tools = build_demo_tools(text_file)
        prompt = get_template("airoboros-2").render(tools.prompt(SEED_INPUT))
        out.write("NOTE: no model was called. The reply below is the example reply from the Airoboros\n")
        out.write("model card; funcroute parses, validates and dispatches it for real.\n\n")
        out.write(f"--- prompt (airoboros-2 template) ---\n{prompt}\n\n")
        out.write(f"--- model reply (from the model card) ---\n{SEED_REPLY}\n\n")
        call = tools.parse(SEED_REPLY)
        out.write(f"--- validated call ---\n{call.function}({call.arguments})\n\n")
        out.write(f"--- handler result over {text_file.name} ---\n{tools.dispatch(call)}\n")
    return 0
