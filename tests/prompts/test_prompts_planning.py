"""Tests of the reWOO plan prompt builder."""

from __future__ import annotations

from typing import Literal

import pytest

from funcroute import ToolSet
from funcroute.errors import UsageError
from funcroute.prompts.planning import plan_parameter, plan_prompt, plan_tools, render_plan_tool


def make_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def DuckDuckGo(query: str) -> str:
        """Search the web with DuckDuckGo.

        Useful for general questions.
        """
        return query

    @tools.tool
    def KnowledgeModel(question: str) -> str:
        """Answer a question from a passage, e.g. What color is the cat, given :evidence1:?"""
        return question

    @tools.tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    @tools.tool
    def search_n(query: str, n: int = 3) -> str:
        """Search with a result count."""
        return query

    @tools.tool
    def count(n: int) -> int:
        """Count."""
        return n

    @tools.tool
    def maybe(text: str | None) -> str:
        """Nullable input."""
        return text or ""

    @tools.tool
    def mode(kind: Literal["a", "b"]) -> str:
        """Pick a mode."""
        return kind

    return tools


def test_plan_tools_keeps_only_single_required_string_parameter_tools() -> None:
    tools = make_tools()
    assert [t.name for t in plan_tools(tools)] == ["DuckDuckGo", "KnowledgeModel", "mode"]
    assert plan_parameter(tools["KnowledgeModel"]) == "question"
    assert plan_parameter(tools["add"]) is None
    assert plan_parameter(tools["search_n"]) is None
    assert plan_parameter(tools["count"]) is None
    assert plan_parameter(tools["maybe"]) is None


def test_tool_line_folds_description() -> None:
    line = render_plan_tool(make_tools()["DuckDuckGo"])
    assert line == "DuckDuckGo[input]: Search the web with DuckDuckGo. Useful for general questions."


EXPECTED_EVIDENCE = """\
For the following task, make plans that can solve the problem step-by-step. For each plan, indicate \
which external tool together with tool input to retrieve evidence. You can store the evidence into a \
variable :evidence[index]: that can be called by later tools. Each tool input is a single plain string; \
to use earlier evidence, write its variable inside the input.

Here are the tools available to be called:
DuckDuckGo[input]: Search the web with DuckDuckGo. Useful for general questions.
KnowledgeModel[input]: Answer a question from a passage, e.g. What color is the cat, given :evidence1:?

The output should be in format:
Plan: [first action to take based on input question]
:evidence0: = [function to call with input parameter]
Plan: [next action to take, based on result of :evidence0:]
:evidence1: = [next function to call and input parameter, which may include reference to previous \
evidence, e.g. "Given context :evidence0:"]
...
Answer: [:evidence[n]: containing the final answer.]

Question: Who won the Nobel Prize in Literature in 2020?"""


def test_evidence_dialect_prompt_exact() -> None:
    tools = make_tools()
    offered = [tools["DuckDuckGo"], tools["KnowledgeModel"]]
    prompt = plan_prompt("  Who won the Nobel Prize in Literature in 2020?\n", offered)
    assert prompt == EXPECTED_EVIDENCE


def test_hash_dialect_prompt() -> None:
    prompt = plan_prompt("Q?", make_tools(), dialect="hash")
    assert "variable #E[index] that can be called" in prompt
    assert "#E1 = [function to call with input parameter]\n" in prompt
    assert 'e.g. "Given context #E1"]\n...\nFinal answer: #E[n]\n\nQuestion: Q?' in prompt
    assert ":evidence" not in prompt.replace("given :evidence1:?", "")


def test_toolset_is_filtered_in_prompt() -> None:
    prompt = plan_prompt("Q?", make_tools())
    assert "mode[input]: Pick a mode." in prompt
    assert "add[" not in prompt
    assert "search_n[" not in prompt


def test_explicit_list_with_unfit_tool_is_rejected() -> None:
    tools = make_tools()
    with pytest.raises(UsageError, match="these do not: add, count"):
        plan_prompt("Q?", [tools["DuckDuckGo"], tools["add"], tools["count"]])


def test_no_usable_tool_and_empty_question_and_bad_dialect() -> None:
    tools = make_tools()
    with pytest.raises(UsageError, match="no tool can be used in a plan"):
        plan_prompt("Q?", tools.subset(["add"]))
    with pytest.raises(UsageError, match="question is empty"):
        plan_prompt(" ", tools)
    with pytest.raises(UsageError, match="unknown plan dialect 'json'"):
        plan_prompt("Q?", tools, dialect="json")  # type: ignore[arg-type]


def test_custom_instruction() -> None:
    prompt = plan_prompt("Q?", make_tools(), instruction="  Make a plan.  ")
    assert prompt.startswith("Make a plan.\n\nHere are the tools available to be called:\n")
