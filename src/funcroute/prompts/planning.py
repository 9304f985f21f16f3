"""The reWOO-style execution-plan prompt Airoboros models were trained on.

The model is shown the tools as ``Name[input]: description`` lines and asked for a plan in one of two
dialects::

    Plan: ...                                   Plan: ...
    :evidence0: = DuckDuckGo[some query]        #E1 = DuckDuckGo[some query]
    Plan: ...                                   Plan: ...
    :evidence1: = KnowledgeModel[..., given     #E2 = KnowledgeModel[..., given #E1?]
        :evidence0:?]
    Answer: :evidence1:                         Final answer: #E2

Which tools are offered: a plan step passes exactly one plain string to its tool, so only tools whose
parameters are exactly ONE required string parameter qualify (that parameter receives the bracket
input). Tools with any other signature (no parameters, several parameters, optional extras, a
non-string or nullable parameter) are left out of the plan prompt; :func:`plan_tools` applies the
rule to a ToolSet. An explicit list of tools is taken as a deliberate choice and every tool in it must
qualify (a :class:`~funcroute.errors.UsageError` otherwise).

Everything here is a pure string builder; nothing calls a model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from funcroute.errors import UsageError

if TYPE_CHECKING:
    from funcroute.tools.tool import Tool

__all__ = [
    "DIALECTS",
    "Dialect",
    "plan_parameter",
    "plan_prompt",
    "plan_tools",
    "render_plan_tool",
]

#: The two plan dialects: ``evidence`` (``:evidence0:`` ... ``Answer:``) and ``hash`` (``#E1`` ...
#: ``Final answer:``).
Dialect = Literal["evidence", "hash"]
DIALECTS: tuple[Dialect, ...] = ("evidence", "hash")

_INSTRUCTION = (
    "For the following task, make plans that can solve the problem step-by-step. For each plan, "
    "indicate which external tool together with tool input to retrieve evidence. You can store the "
    "evidence into a variable {variable} that can be called by later tools. Each tool input is a "
    "single plain string; to use earlier evidence, write its variable inside the input."
)

_SKELETON: dict[Dialect, str] = {
    "evidence": (
        "Plan: [first action to take based on input question]\n"
        ":evidence0: = [function to call with input parameter]\n"
        "Plan: [next action to take, based on result of :evidence0:]\n"
        ":evidence1: = [next function to call and input parameter, which may include reference to "
        'previous evidence, e.g. "Given context :evidence0:"]\n'
        "...\n"
        "Answer: [:evidence[n]: containing the final answer.]"
    ),
    "hash": (
        "Plan: [first action to take based on input question]\n"
        "#E1 = [function to call with input parameter]\n"
        "Plan: [next action to take, based on result of #E1]\n"
        "#E2 = [next function to call and input parameter, which may include reference to previous "
        'evidence, e.g. "Given context #E1"]\n'
        "...\n"
        "Final answer: #E[n]"
    ),
}

_VARIABLE: dict[Dialect, str] = {"evidence": ":evidence[index]:", "hash": "#E[index]"}


def _is_string_schema(schema: Mapping[str, Any]) -> bool:
    kind = schema.get("type")
    if kind == "string":
        return True
    return isinstance(kind, list) and kind == ["string"]


def plan_parameter(tool: Tool) -> str | None:
    """The name of the parameter that receives a plan step's input, if the tool can be planned with.

    Args:
        tool: any tool.

    Returns:
        The parameter name when the tool's parameters are exactly one required string parameter,
        else ``None``.
    """
    properties = tool.schema.get("properties") or {}
    required = tool.schema.get("required") or []
    if len(properties) != 1 or len(required) != 1:
        return None
    (name,) = properties
    spec = properties[name]
    if required[0] != name or not isinstance(spec, Mapping) or not _is_string_schema(spec):
        return None
    return str(name)


def plan_tools(tools: Iterable[Tool]) -> list[Tool]:
    """Select the tools that can appear in a plan (one required string parameter), in order.

    Args:
        tools: a ToolSet or any iterable of tools.

    Returns:
        The qualifying tools; the others are silently left out.
    """
    return [tool for tool in tools if plan_parameter(tool) is not None]


def render_plan_tool(tool: Tool) -> str:
    """Render one tool as ``Name[input]: description`` (the description folded onto one line).

    Args:
        tool: a tool that qualifies for plans.

    Returns:
        The tool line, without a trailing newline.
    """
    description = " ".join(tool.description.split())
    return f"{tool.name}[input]: {description}" if description else f"{tool.name}[input]"


def _offered(tools: Iterable[Tool]) -> list[Tool]:
    if isinstance(tools, Sequence):
        unfit = [tool.name for tool in tools if plan_parameter(tool) is None]
        if unfit:
            raise UsageError(
                "tools in a plan must take exactly one required string parameter; these do not: "
                + ", ".join(unfit)
            )
        offered = list(tools)
    else:
        offered = plan_tools(tools)
    if not offered:
        raise UsageError("no tool can be used in a plan (none takes exactly one required string parameter)")
    return offered


def plan_prompt(
    question: str,
    tools: Iterable[Tool],
    *,
    dialect: Dialect = "evidence",
    instruction: str | None = None,
) -> str:
    """Render the plan prompt body (the text after ``USER:``, before the chat template).

    Args:
        question: the user's task or question.
        tools: a ToolSet (filtered with :func:`plan_tools`) or an explicit list or tuple of tools
            (each must qualify).
        dialect: ``"evidence"`` (``:evidence0:`` ... ``Answer:``) or ``"hash"`` (``#E1`` ...
            ``Final answer:``).
        instruction: replaces the opening instruction paragraph; ``None`` keeps the default.

    Returns:
        The prompt, ending with the ``Question:`` line and no trailing newline.

    Raises:
        UsageError: an unknown dialect, an empty question, no usable tool, or an explicit tool that
            does not qualify.
    """
    if dialect not in DIALECTS:
        raise UsageError(f"unknown plan dialect {dialect!r}; use one of {', '.join(DIALECTS)}")
    question = question.strip()
    if not question:
        raise UsageError("the plan question is empty")
    offered = _offered(tools)
    opening = _INSTRUCTION.format(variable=_VARIABLE[dialect]) if instruction is None else instruction.strip()
    tool_lines = "\n".join(render_plan_tool(tool) for tool in offered)
    return (
        f"{opening}\n\n"
        f"Here are the tools available to be called:\n{tool_lines}\n\n"
        f"The output should be in format:\n{_SKELETON[dialect]}\n\n"
        f"Question: {question}"
    )
