"""Tests of plan parsing, validation and (sync and async) execution."""

from __future__ import annotations

import asyncio
import time
from typing import Annotated

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import Field

from funcroute import ToolSet
from funcroute.errors import (
    CallValidationError,
    DispatchError,
    HandlerError,
    PlanExecutionError,
    PlanParseError,
    PlanValidationError,
)
from funcroute.plans import Plan, PlanResult, PlanStep, parse_plan, plan_problems, validate_plan

CARD_REPLY = """\
Plan: Begin by conducting a web search to find out who won the Nobel Prize in Literature in 2020.
:evidence0: = DuckDuckGo[Nobel Prize in Literature 2020 winner]
Plan: Utilize the KnowledgeModel to interpret the search results and find the name of the laureate.
:evidence1: = KnowledgeModel[Who won the Nobel Prize in Literature in 2020, given :evidence0:?]
Plan: Conduct another web search to find the most famous work by the identified laureate.
:evidence2: = DuckDuckGo[Most famous work of :evidence1:]
Plan: Extract the relevant links from the DuckDuckGo search results for a more focused search.
:evidence3: = HyperlinkExtractor[:evidence2:]
Plan: Use the TextScraper tool to extract information from the relevant links.
:evidence4: = TextScraper[:evidence3:]
Plan: Finally, utilize the KnowledgeModel to identify and summarize the most famous work of the laureate.
:evidence5: = KnowledgeModel[What is the most famous work of :evidence1:, given :evidence4:?]
Answer: :evidence5:
"""


def make_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def DuckDuckGo(query: str) -> str:
        """Search the web."""
        return f"results for {query}"

    @tools.tool
    def KnowledgeModel(question: str) -> str:
        """Answer a question from a passage."""
        return f"answer to ({question})"

    @tools.tool
    def HyperlinkExtractor(text: str) -> str:
        """Extract links."""
        return f"links in ({text})"

    @tools.tool
    def TextScraper(links: str) -> str:
        """Scrape pages."""
        return f"text of ({links})"

    @tools.tool
    def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    return tools


# ----------------------------------------------------------------------------------------- parsing


def test_card_example_parses() -> None:
    plan = parse_plan(CARD_REPLY)
    assert [s.evidence for s in plan.steps] == [f":evidence{i}:" for i in range(6)]
    assert [s.tool for s in plan.steps] == [
        "DuckDuckGo",
        "KnowledgeModel",
        "DuckDuckGo",
        "HyperlinkExtractor",
        "TextScraper",
        "KnowledgeModel",
    ]
    assert plan.steps[1].input == "Who won the Nobel Prize in Literature in 2020, given :evidence0:?"
    assert plan.steps[0].plan.startswith("Begin by conducting a web search")
    assert plan.steps[5].references == (":evidence1:", ":evidence4:")
    assert plan.steps[0].line == 2
    assert plan.answer == ":evidence5:"
    assert plan.answer_text == ":evidence5:"
    assert plan.dialect == "evidence"
    assert plan.reply == CARD_REPLY


def test_hash_dialect_parses() -> None:
    reply = (
        "Plan: search\n#E1 = DuckDuckGo[capital of France]\n"
        "Plan: read\n#E2 = KnowledgeModel[What, given #E1?]\nFinal answer: #E2"
    )
    plan = parse_plan(reply)
    assert [(s.evidence, s.tool, s.input) for s in plan.steps] == [
        ("#E1", "DuckDuckGo", "capital of France"),
        ("#E2", "KnowledgeModel", "What, given #E1?"),
    ]
    assert plan.steps[1].references == ("#E1",)
    assert plan.answer == "#E2"
    assert plan.dialect == "hash"


def test_call_wrapped_in_brackets() -> None:
    plan = parse_plan(
        ":evidence0: = [DuckDuckGo[x]]\n"
        ":evidence1: = [KnowledgeModel[What is [1], given :evidence0:?]]\nAnswer: :evidence1:"
    )
    assert [(s.tool, s.input) for s in plan.steps] == [
        ("DuckDuckGo", "x"),
        ("KnowledgeModel", "What is [1], given :evidence0:?"),
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("DuckDuckGo[list[int] in python]", "list[int] in python"),
        ('DuckDuckGo[what does "[" mean]', 'what does "[" mean'),
        ('DuckDuckGo[what does "]" mean]', 'what does "]" mean'),
        ("DuckDuckGo[a ] b [ c]", "a ] b [ c"),
        ("DuckDuckGo[query] (searches the web)", "query"),
        ("DuckDuckGo[query].", "query"),
        ("**DuckDuckGo[query]**", "query"),
        ("DuckDuckGo []", ""),
        ("[DuckDuckGo[x [y]]]", "x [y]"),
        ('[DuckDuckGo[what "[" means]]', 'what "[" means'),
        ("[DuckDuckGo[x [y]]", "x [y"),
        ("[DuckDuckGo[x]", "x"),
        ("[DuckDuckGo[x] and prose", "x"),
        ("DuckDuckGo[:evidence[0]: and more]", ":evidence[0]: and more"),
    ],
)
def test_brackets_inside_inputs(line: str, expected: str) -> None:
    plan = parse_plan(f":evidence0: = {line}\nAnswer: :evidence0:")
    assert plan.steps[0].input == expected


def test_multiline_inputs() -> None:
    reply = """\
Plan: summarise
:evidence0: = KnowledgeModel[Summarise this list:
- item [a]
- item b
given context]
Plan: unbalanced over lines
:evidence1: = KnowledgeModel[first line with [ open
second line]
This is prose after the step.
Answer: :evidence1:"""
    plan = parse_plan(reply)
    assert plan.steps[0].input == "Summarise this list:\n- item [a]\n- item b\ngiven context"
    assert plan.steps[1].input == "first line with [ open\nsecond line"
    assert plan.steps[1].plan == "unbalanced over lines"
    assert plan.steps[1].line == 7


def test_stray_prose_numbering_markdown_blank_lines() -> None:
    reply = """\
Sure! Here is a plan to answer the question.

1. **Plan:** Search the web.
   **:evidence0:** = DuckDuckGo[who is the CEO of Acme]

2. Plan: Ask the model.
:evidence1: = **KnowledgeModel[Who is the CEO, given :evidence0:?]**

**Answer:** :evidence1:

Question: something else the model kept generating
:evidence9: = DuckDuckGo[ignored]
"""
    plan = parse_plan(reply)
    assert [(s.evidence, s.tool, s.plan) for s in plan.steps] == [
        (":evidence0:", "DuckDuckGo", "Search the web."),
        (":evidence1:", "KnowledgeModel", "Ask the model."),
    ]
    assert plan.steps[1].input == "Who is the CEO, given :evidence0:?"
    assert plan.answer == ":evidence1:"


def test_reference_spellings_are_canonical() -> None:
    reply = (
        ":evidence[0]: = DuckDuckGo[x]\n"
        ":evidence1: = KnowledgeModel[Given context :evidence0 and #E[2]]\nAnswer: [:evidence1:]"
    )
    plan = parse_plan(reply)
    assert plan.steps[0].evidence == ":evidence0:"
    assert plan.steps[1].references == (":evidence0:", "#E2")
    assert plan.answer == ":evidence1:"


def test_step_on_the_plan_line_and_answer_on_next_line() -> None:
    plan = parse_plan("Plan: search. :evidence0: = DuckDuckGo[x]\nAnswer:\n\n:evidence0:")
    assert plan.steps == (PlanStep(":evidence0:", "DuckDuckGo", "x", "search.", 1),)
    assert plan.answer == ":evidence0:"


def test_answer_with_several_references_uses_the_last() -> None:
    plan = parse_plan(
        ":evidence0: = DuckDuckGo[a]\n:evidence1: = DuckDuckGo[b]\nAnswer: :evidence0: and :evidence1:"
    )
    assert plan.answer == ":evidence1:"


def test_no_steps_is_a_parse_error() -> None:
    with pytest.raises(PlanParseError, match="no plan step") as info:
        parse_plan("I cannot help with that.")
    assert info.value.reply == "I cannot help with that."


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (":evidence0: = 42", "is not followed by a Tool\\[input\\] call"),
        (":evidence0: = DuckDuckGo query", "has no \\[input\\] in brackets"),
        (":evidence0: = DuckDuckGo[never closed", "has no closing"),
    ],
)
def test_unreadable_calls_are_parse_errors(line: str, message: str) -> None:
    with pytest.raises(PlanParseError, match=message):
        parse_plan(f"{line}\nPlan: next\n:evidence1: = DuckDuckGo[x]\nAnswer: :evidence1:")


def test_to_text_round_trips() -> None:
    plan = parse_plan(CARD_REPLY)
    again = parse_plan(plan.to_text())
    assert [(s.evidence, s.tool, s.input, s.plan) for s in again.steps] == [
        (s.evidence, s.tool, s.input, s.plan) for s in plan.steps
    ]
    assert again.answer == plan.answer


# -------------------------------------------------------------------------------------- validation


def problems_of(reply: str, *, max_steps: int = 20) -> list[tuple[str, str]]:
    plan = parse_plan(reply, max_steps=max_steps)
    return [(p.kind, p.message) for p in plan_problems(plan, make_tools())]


def test_valid_card_plan_has_no_problems() -> None:
    plan = parse_plan(CARD_REPLY)
    assert validate_plan(plan, make_tools()) is plan
    assert plan.validate(make_tools()) is plan


def test_unknown_tool() -> None:
    assert problems_of(":evidence0: = DuckDuckGoo[x]\nAnswer: :evidence0:") == [
        (
            "unknown_tool",
            "step 1 (:evidence0:) calls unknown tool 'DuckDuckGoo'. Did you mean 'DuckDuckGo'? Available "
            "tools: DuckDuckGo, KnowledgeModel, HyperlinkExtractor, TextScraper",
        )
    ]


def test_tool_not_usable_in_plans() -> None:
    assert problems_of(":evidence0: = add[1 2]\nAnswer: :evidence0:") == [
        (
            "unsupported_tool",
            "step 1 (:evidence0:) calls 'add', which does not take a single text input and cannot be "
            "used in a plan. Available tools: DuckDuckGo, KnowledgeModel, HyperlinkExtractor, TextScraper",
        )
    ]


def test_undefined_evidence() -> None:
    assert problems_of(":evidence0: = KnowledgeModel[given :evidence7:]\nAnswer: :evidence0:") == [
        ("undefined_evidence", "step 1 (:evidence0:) uses :evidence7:, which no step defines")
    ]


def test_reference_to_later_evidence() -> None:
    reply = (
        ":evidence0: = KnowledgeModel[given :evidence1:]\n:evidence1: = DuckDuckGo[x]\nAnswer: :evidence0:"
    )
    assert problems_of(reply) == [
        ("forward_reference", "step 1 (:evidence0:) uses :evidence1:, which is only defined later, by step 2")
    ]


def test_reference_to_own_result() -> None:
    assert problems_of("#E1 = KnowledgeModel[given #E1]\nFinal answer: #E1") == [
        ("forward_reference", "step 1 (#E1) uses #E1, which is its own result")
    ]


def test_duplicate_evidence() -> None:
    reply = ":evidence0: = DuckDuckGo[a]\n:evidence0: = DuckDuckGo[b]\nAnswer: :evidence0:"
    assert problems_of(reply) == [
        ("duplicate_evidence", "step 2 (:evidence0:) redefines :evidence0:, already defined by step 1")
    ]


def test_missing_answer_line() -> None:
    assert problems_of(":evidence0: = DuckDuckGo[a]") == [
        ("missing_answer", "the plan has no answer line (e.g. 'Answer: :evidence1:')")
    ]
    assert problems_of("#E1 = DuckDuckGo[a]") == [
        ("missing_answer", "the plan has no answer line (e.g. 'Final answer: #E2')")
    ]


def test_answer_without_evidence() -> None:
    assert problems_of(":evidence0: = DuckDuckGo[a]\nAnswer: Paris") == [
        ("answer_without_evidence", "the answer line 'Paris' names no evidence variable")
    ]


def test_answer_naming_unknown_evidence() -> None:
    assert problems_of(":evidence0: = DuckDuckGo[a]\nAnswer: :evidence3:") == [
        ("unknown_answer", "the answer uses :evidence3:, which no step defines; defined: :evidence0:")
    ]


def test_too_many_steps() -> None:
    reply = "\n".join(f":evidence{i}: = DuckDuckGo[{i}]" for i in range(4)) + "\nAnswer: :evidence3:"
    assert problems_of(reply, max_steps=3) == [
        ("too_many_steps", "the plan has 4 steps; at most 3 are allowed")
    ]


def test_no_steps_in_hand_built_plan() -> None:
    plan = Plan((), None, answer_text="")
    assert [p.kind for p in plan_problems(plan, make_tools())] == ["no_steps", "answer_without_evidence"]


def test_every_problem_is_reported_at_once() -> None:
    reply = (
        ":evidence0: = Nope[given :evidence2:]\n:evidence0: = DuckDuckGo[a]\n"
        ":evidence1: = KnowledgeModel[given :evidence9:]\nAnswer: :evidence4:"
    )
    with pytest.raises(PlanValidationError) as info:
        parse_plan(reply).validate(make_tools())
    kinds = [p.kind for p in info.value.problems]
    assert kinds == [
        "unknown_tool",
        "undefined_evidence",
        "duplicate_evidence",
        "undefined_evidence",
        "unknown_answer",
    ]
    assert str(info.value).startswith(
        "invalid plan (5 problems):\n  - step 1 (:evidence0:) calls unknown tool"
    )
    assert info.value.reply == reply
    assert [p.step for p in info.value.problems] == [1, 1, 2, 3, None]


# --------------------------------------------------------------------------------------- execution


def test_execute_substitutes_evidence() -> None:
    result = parse_plan(CARD_REPLY).execute(make_tools())
    trace = result.trace
    assert [r.status for r in trace] == ["ok"] * 6
    assert trace[0].output == "results for Nobel Prize in Literature 2020 winner"
    assert trace[1].input == (
        "Who won the Nobel Prize in Literature in 2020, given "
        "results for Nobel Prize in Literature 2020 winner?"
    )
    assert trace[2].input == f"Most famous work of {trace[1].output}"
    assert trace[1].call is not None and trace[1].call.arguments == {"question": trace[1].input}
    assert result.answer == trace[5].output
    assert result.answer_text == trace[5].output
    assert result.outputs[":evidence3:"] == f"links in ({trace[2].output})"
    assert all(r.elapsed >= 0 and r.started >= 0 for r in trace)
    assert result.elapsed >= trace[-1].started


def test_outputs_are_capped_with_a_marker() -> None:
    tools = ToolSet()

    @tools.tool
    def big(query: str) -> str:
        """Big output."""
        return "x" * 50

    @tools.tool
    def echo(text: str) -> str:
        """Echo."""
        return text

    result = parse_plan("#E1 = big[q]\n#E2 = echo[<#E1>]\nFinal answer: #E2").execute(
        tools, max_output_chars=10
    )
    assert result.trace[0].output == "x" * 50
    assert result.trace[0].text == "x" * 10 + " [... truncated 40 characters]"
    assert result.trace[1].input == "<" + "x" * 10 + " [... truncated 40 characters]>"
    uncapped = parse_plan("#E1 = big[q]\n#E2 = echo[#E1]\nFinal answer: #E2").execute(
        tools, max_output_chars=None
    )
    assert uncapped.answer == "x" * 50


def test_substituted_text_is_not_rescanned_for_references() -> None:
    tools = ToolSet()

    @tools.tool
    def say(text: str) -> str:
        """Say."""
        return ":evidence0: #E1" if text == "first" else text

    result = parse_plan(
        ":evidence0: = say[first]\n:evidence1: = say[[:evidence0:]]\nAnswer: :evidence1:"
    ).execute(tools)
    assert result.answer == "[:evidence0: #E1]"


def test_invalid_plan_runs_nothing() -> None:
    calls: list[str] = []
    tools = ToolSet()

    @tools.tool
    def record(text: str) -> str:
        """Record."""
        calls.append(text)
        return text

    with pytest.raises(PlanValidationError):
        parse_plan(":evidence0: = record[a]\n:evidence1: = missing[b]\nAnswer: :evidence1:").execute(tools)
    assert calls == []


def failing_tools() -> ToolSet:
    tools = ToolSet()

    @tools.tool
    def ok(text: str) -> str:
        """Fine."""
        return f"ok({text})"

    @tools.tool
    def boom(text: str) -> str:
        """Fails."""
        raise ValueError(f"cannot handle {text}")

    return tools


def test_failing_step_stops_plan_with_partial_trace() -> None:
    reply = "#E1 = ok[a]\n#E2 = boom[#E1]\n#E3 = ok[#E2]\nFinal answer: #E3"
    with pytest.raises(PlanExecutionError) as info:
        parse_plan(reply).execute(failing_tools())
    error = info.value
    assert str(error).startswith(
        "plan step #E2 = boom[...] failed: tool 'boom' raised ValueError: cannot handle ok(a)"
    )
    assert error.step.evidence == "#E2"
    assert [(r.step.evidence, r.status) for r in error.trace] == [("#E1", "ok"), ("#E2", "error")]
    assert error.trace[1].input == "ok(a)"
    assert isinstance(error.trace[1].error, HandlerError)
    assert isinstance(error.__cause__, HandlerError)
    # A dispatch failure in the error tree, carrying the failed step's call like any other.
    assert isinstance(error, DispatchError)
    assert error.call is not None and error.call.function == "boom" and error.call is error.trace[1].call


def test_async_failing_step_cancels_running_siblings() -> None:
    tools = ToolSet()

    @tools.tool
    async def slow(text: str) -> str:
        """Slow."""
        await asyncio.sleep(5)
        return text

    @tools.tool
    async def boom(text: str) -> str:
        """Fails."""
        await asyncio.sleep(0.01)
        raise RuntimeError("nope")

    @tools.tool
    async def ok(text: str) -> str:
        """Fine."""
        return text

    reply = "#E1 = ok[a]\n#E2 = slow[b]\n#E3 = boom[#E1]\n#E4 = ok[#E3 #E2]\nFinal answer: #E4"
    start = time.perf_counter()
    with pytest.raises(PlanExecutionError) as info:
        asyncio.run(parse_plan(reply).aexecute(tools))
    assert time.perf_counter() - start < 2
    assert [(r.step.evidence, r.status) for r in info.value.trace] == [
        ("#E1", "ok"),
        ("#E2", "cancelled"),
        ("#E3", "error"),
    ]
    assert isinstance(info.value.__cause__, HandlerError)
    assert info.value.call is not None and info.value.call.function == "boom"


def test_invalid_call_at_execution_is_a_step_failure() -> None:
    tools = ToolSet()

    @tools.tool
    def code(text: Annotated[str, Field(max_length=5)]) -> str:
        """Look up a short code."""
        return text

    @tools.tool
    def echo(text: str) -> str:
        """Echo."""
        return text * 3

    assert parse_plan("#E1 = code[abc]\nFinal answer: #E1").execute(tools).answer == "abc"
    with pytest.raises(PlanExecutionError, match="failed: invalid arguments for 'code'") as info:
        parse_plan("#E1 = echo[abc]\n#E2 = code[#E1]\nFinal answer: #E2").execute(tools)
    assert isinstance(info.value.__cause__, CallValidationError)
    assert [r.status for r in info.value.trace] == ["ok", "error"]
    assert info.value.trace[1].input == "abcabcabc"
    assert info.value.trace[1].call is None
    assert info.value.call is None  # the step's call never validated


def test_async_independent_steps_run_concurrently_events() -> None:
    tools = ToolSet()
    first_started = asyncio.Event()
    second_started = asyncio.Event()

    @tools.tool
    async def first(text: str) -> str:
        """Waits for second."""
        first_started.set()
        await second_started.wait()
        return "one"

    @tools.tool
    async def second(text: str) -> str:
        """Waits for first."""
        second_started.set()
        await first_started.wait()
        return "two"

    @tools.tool
    async def join(text: str) -> str:
        """Join."""
        return text

    plan = parse_plan(
        ":evidence0: = first[a]\n:evidence1: = second[b]\n"
        ":evidence2: = join[:evidence0: + :evidence1:]\nAnswer: :evidence2:"
    )

    async def run() -> PlanResult:
        return await asyncio.wait_for(plan.aexecute(tools), timeout=5)

    result = asyncio.run(run())
    assert result.answer == "one + two"


def test_async_independent_steps_overlap_in_time() -> None:
    tools = ToolSet()

    @tools.tool
    async def nap(text: str) -> str:
        """Sleep 0.2 s."""
        await asyncio.sleep(0.2)
        return text.upper()

    @tools.tool
    def sync_nap(text: str) -> str:
        """Sleep 0.2 s in a worker thread."""
        time.sleep(0.2)
        return text

    reply = "#E1 = nap[a]\n#E2 = sync_nap[b]\n#E3 = nap[#E1 #E2]\nFinal answer: #E3"
    result = asyncio.run(parse_plan(reply).aexecute(tools))
    assert result.answer == "A B"
    first, second, third = result.trace
    assert second.started < first.started + first.elapsed  # the two independent steps overlap
    assert first.started < second.started + second.elapsed
    assert third.started >= max(first.started + first.elapsed, second.started + second.elapsed) - 1e-3


def test_async_max_concurrency_serialises() -> None:
    tools = ToolSet()

    @tools.tool
    async def nap(text: str) -> str:
        """Sleep."""
        await asyncio.sleep(0.1)
        return text

    reply = "#E1 = nap[a]\n#E2 = nap[b]\n#E3 = nap[c]\nFinal answer: #E3"
    result = asyncio.run(parse_plan(reply).aexecute(tools, max_concurrency=1))
    assert result.elapsed >= 0.29


def test_async_step_timeout() -> None:
    tools = ToolSet()

    @tools.tool
    async def hang(text: str) -> str:
        """Hang."""
        await asyncio.sleep(10)
        return text

    with pytest.raises(PlanExecutionError, match="failed: TimeoutError") as info:
        asyncio.run(parse_plan("#E1 = hang[a]\nFinal answer: #E1").aexecute(tools, step_timeout=0.05))
    assert info.value.trace[0].status == "error"


def test_async_matches_sync_result() -> None:
    plan = parse_plan(CARD_REPLY)
    sync = plan.execute(make_tools())
    concurrent = asyncio.run(plan.aexecute(make_tools()))
    assert [r.input for r in concurrent.trace] == [r.input for r in sync.trace]
    assert concurrent.answer == sync.answer


def test_crlf_and_markdown_headings() -> None:
    reply = "### Plan: search\r\n#E1 = DuckDuckGo[x]\r\n### Final Answer: #E1\r\n"
    plan = parse_plan(reply)
    assert [(s.plan, s.tool, s.input) for s in plan.steps] == [("search", "DuckDuckGo", "x")]
    assert plan.answer == "#E1"
    assert plan.reply == reply


def test_sync_execute_runs_async_handlers() -> None:
    tools = ToolSet()

    @tools.tool
    async def shout(text: str) -> str:
        """Shout."""
        await asyncio.sleep(0)
        return text.upper()

    assert parse_plan("#E1 = shout[hi]\n#E2 = shout[#E1!]\nFinal answer: #E2").execute(tools).answer == "HI!"


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("[]:=#E0123 \nPlanAswer*evid.Tool")), max_size=80))
def test_parser_only_raises_parse_errors(reply: str) -> None:
    try:
        plan = parse_plan(reply)
    except PlanParseError:
        return
    assert plan.steps
    for step in plan.steps:
        assert step.evidence.startswith((":evidence", "#E"))
