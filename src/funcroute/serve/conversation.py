"""OpenAI chat messages → the turns of an Airoboros conversation.

A client's agent loop sends the whole conversation every turn: system text, user messages, the
assistant's earlier tool calls and the tools' results. They are read into a :class:`Dialogue` and
rendered the way Airoboros models were trained:

* earlier user/assistant exchanges become earlier turns of the chat template;
* each earlier tool call of the current exchange is an assistant turn holding the Airoboros JSON call
  (``{"function": ..., "params": ...}``), and the results that answered it open the next user turn
  as closed-context blocks (``BEGININPUT`` ... ``ENDINPUT``, metadata: the function and its
  arguments), followed by the user's question as the instruction;
* the newest turn is either the function-selection prompt (after the latest results, if any), or,
  for a text answer, the closed-context prompt over the latest results.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from funcroute.prompts.context import ContextBlock, closed_context
from funcroute.serve.schemas import ApiError, Message

__all__ = ["Dialogue", "Step", "canonical", "read_messages"]

_NEXT_STEP = "Use these function results to choose the next step for the input below."


@dataclass
class Step:
    """Tool calls the assistant made, and the results the client sent back for them.

    Attributes:
        calls: ``(call id, function name, arguments JSON text)`` for each call.
        results: one closed-context block per result, in the order the client sent them.
    """

    calls: list[tuple[str, str, str]] = field(default_factory=list)
    results: list[ContextBlock] = field(default_factory=list)

    def reply(self) -> str:
        """The assistant's turn as an Airoboros reply: one call object, or a list of them."""
        payload = [{"function": name, "params": _loads(arguments)} for _, name, arguments in self.calls]
        return json.dumps(payload[0] if len(payload) == 1 else payload, ensure_ascii=False)


@dataclass
class _Exchange:
    question: str
    steps: list[Step] = field(default_factory=list)
    answer: str | None = None


@dataclass
class Dialogue:
    """The conversation, read from the messages.

    Attributes:
        system: the client's system (and developer) text, joined.
        earlier: finished exchanges, as ``(user turn, assistant turn)`` pairs.
        question: the newest user message.
        steps: tool calls and results after the newest user message.
    """

    system: str
    earlier: list[tuple[str, str]]
    question: str
    steps: list[Step]

    @property
    def results(self) -> list[ContextBlock]:
        """The results of the newest step (what the next turn must use)."""
        return self.steps[-1].results if self.steps else []

    def history(self) -> list[tuple[str, str]]:
        """Every turn before the newest one, as ``(user turn, assistant turn)`` pairs."""
        turns = list(self.earlier)
        turns.extend(_step_turns(self.question, self.steps))
        return turns

    def answered(self) -> set[tuple[str, str]]:
        """The calls of this exchange that already have results, as ``(name, canonical arguments)``."""
        return {
            (name, canonical(_loads(arguments)))
            for step in self.steps
            if step.results
            for _, name, arguments in step.calls
        }

    def call_turn(self, selection_prompt: str) -> str:
        """The newest user turn when asking for a call: the latest results, then the selection prompt."""
        if not self.results:
            return selection_prompt
        return closed_context(self.results, _NEXT_STEP) + "\n\n" + selection_prompt

    def answer_turn(self) -> str:
        """The newest user turn when asking for text: the question over the latest results."""
        if not self.results:
            return self.question
        return closed_context(self.results, self.question)


def _step_turns(question: str, steps: list[Step]) -> list[tuple[str, str]]:
    turns = []
    user = question
    for step in steps:
        turns.append((user, step.reply()))
        user = closed_context(step.results, question) if step.results else question
    return turns


def read_messages(messages: list[Message]) -> Dialogue:
    """Read the messages of a request.

    Raises:
        ApiError: 400 for a conversation the server cannot continue (no user message, a tool result
            answering no earlier call, a last message from the assistant), naming the message.
    """
    system, exchanges = _read_exchanges(messages)
    if not exchanges:
        raise ApiError(400, "messages: there is no user message to answer", param="messages")
    last = messages[-1]
    if last.role == "assistant":
        raise ApiError(
            400,
            "messages: the last message is the assistant's; end with a user or tool message",
            param="messages",
        )
    current = exchanges[-1]
    if current.answer is not None:  # tool results after a text answer: read them as the next step
        current.answer = None
    earlier = _earlier_turns(exchanges[:-1])
    if not current.question.strip():
        raise ApiError(400, "messages: the newest user message is empty", param="messages")
    return Dialogue(" ".join(s for s in system if s), earlier, current.question.strip(), current.steps)


def _read_exchanges(messages: list[Message]) -> tuple[list[str], list[_Exchange]]:
    """The system texts, and the exchanges: a question, the tool steps taken for it, the answer."""
    system: list[str] = []
    exchanges: list[_Exchange] = []
    calls: dict[str, tuple[Step, str, str]] = {}
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        text = message.text(f"{where}.content")
        if message.role in ("system", "developer"):
            system.append(text.strip())
        elif message.role == "user":
            if exchanges and exchanges[-1].answer is None and not exchanges[-1].steps:
                exchanges[-1].question += "\n" + text  # consecutive user messages read as one
            else:
                exchanges.append(_Exchange(text))
        elif not exchanges:
            raise ApiError(400, f"{where}: a {message.role} message before any user message", param=where)
        elif message.role == "assistant":
            _read_assistant(exchanges[-1], message, text, calls)
        else:  # tool
            found = calls.get(message.tool_call_id or "")
            if found is None:
                raise ApiError(
                    400,
                    f"{where}.tool_call_id {message.tool_call_id!r} answers no earlier tool call",
                    param=f"{where}.tool_call_id",
                )
            step, name, arguments = found
            step.results.append(ContextBlock(text, {"function": name, "arguments": arguments}))
    return system, exchanges


def _read_assistant(
    current: _Exchange, message: Message, text: str, calls: dict[str, tuple[Step, str, str]]
) -> None:
    """An assistant message: a step of tool calls (remembered by id for their results), or answer text."""
    if message.tool_calls:
        step = Step([(c.id, c.function.name, c.function.arguments) for c in message.tool_calls])
        current.steps.append(step)
        calls.update({c.id: (step, c.function.name, c.function.arguments) for c in message.tool_calls})
    else:
        current.answer = (current.answer + "\n" if current.answer else "") + text


def _earlier_turns(exchanges: list[_Exchange]) -> list[tuple[str, str]]:
    """The finished exchanges as (user, assistant) turns, tool steps included."""
    earlier: list[tuple[str, str]] = []
    for exchange in exchanges:
        if exchange.answer is None:
            continue  # an exchange the client abandoned: nothing the model said to show
        last_user = exchange.question
        if exchange.steps and exchange.steps[-1].results:
            last_user = closed_context(exchange.steps[-1].results, exchange.question)
        earlier.extend(_step_turns(exchange.question, exchange.steps))
        earlier.append((last_user, exchange.answer))
    return earlier


def _loads(arguments: str) -> object:
    try:
        return json.loads(arguments)
    except (ValueError, RecursionError):
        return arguments  # shown to the model as the client sent it


def canonical(value: object) -> str:
    """A JSON text equal for equal values (keys sorted), to compare calls."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, default=str)
