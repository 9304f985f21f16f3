"""The chat-completions request, read strictly where it matters and leniently where clients differ.

Clients send many optional fields (``top_p``, ``logprobs``, ``user``, ``store``, ``metadata``...);
those the server has no use for are ignored, as OpenAI-compatible servers commonly do. Fields that
change what the client gets back (``n``, ``response_format``) are refused when unsupported rather
than silently dropped. Every refusal is an :class:`ApiError` naming the request path.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

__all__ = [
    "ApiError",
    "ChatRequest",
    "FunctionSpec",
    "Message",
    "ToolCall",
    "ToolSpec",
    "parse_chat_request",
]

Role = Literal["system", "developer", "user", "assistant", "tool"]


class ApiError(Exception):
    """An error answered in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

    Attributes:
        status: the HTTP status.
        message: what was wrong, in words.
        type: OpenAI's error type (``invalid_request_error``, ``server_error``...).
        param: the request path at fault, where there is one.
        code: a short machine-readable code.
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str = "invalid_request_error",
        param: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON body of the error response."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class FunctionCall(_Lenient):
    """A function call inside an assistant message: arguments are a JSON string."""

    name: str
    arguments: str = "{}"


class ToolCall(_Lenient):
    """One entry of an assistant message's ``tool_calls``."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class Message(_Lenient):
    """A chat message of any role."""

    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[ToolCall] | None = None
    tool_call_id: str | None = None

    def text(self, where: str) -> str:
        """The message's text; content parts other than text are refused."""
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        pieces = []
        for i, part in enumerate(self.content):
            if part.get("type") != "text" or not isinstance(part.get("text"), str):
                kind = part.get("type")
                raise ApiError(
                    400, f"content part of type {kind!r} is not supported (text only)", param=f"{where}[{i}]"
                )
            pieces.append(part["text"])
        return "".join(pieces)


class FunctionSpec(_Lenient):
    """A tool's function: name, description and a JSON Schema of its parameters."""

    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class ToolSpec(_Lenient):
    """One entry of ``tools``."""

    type: Literal["function"]
    function: FunctionSpec


class NamedFunction(_Lenient):
    """The function part of a named ``tool_choice``."""

    name: str


class NamedChoice(_Lenient):
    """``{"type": "function", "function": {"name": ...}}``: this tool must be called."""

    type: Literal["function"]
    function: NamedFunction


class ChatRequest(_Lenient):
    """``POST /v1/chat/completions``."""

    model: str = ""
    messages: list[Message] = Field(min_length=1)
    tools: list[ToolSpec] | None = None
    tool_choice: Literal["auto", "none", "required"] | NamedChoice | None = None
    parallel_tool_calls: bool | None = None
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    seed: int | None = None
    stop: str | list[str] | None = None
    n: int | None = None
    response_format: dict[str, Any] | None = None

    @field_validator("n")
    @classmethod
    def _one_choice(cls, value: int | None) -> int | None:
        if value is not None and value != 1:
            raise ValueError("only n=1 is supported")
        return value

    @field_validator("response_format")
    @classmethod
    def _text_only(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None and value.get("type") not in (None, "text"):
            raise ValueError("only response_format type 'text' is supported; use tools for structured output")
        return value

    @property
    def token_budget(self) -> int | None:
        """The client's generation limit (``max_completion_tokens`` wins over ``max_tokens``)."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def stops(self) -> tuple[str, ...]:
        """The client's extra stop strings."""
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(s for s in self.stop if s)


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_chat_request(data: Any) -> ChatRequest:
    """Validate a decoded JSON body.

    Raises:
        ApiError: 400, naming the first offending path (and how many more there are).
    """
    if not isinstance(data, dict):
        raise ApiError(400, "the request body must be a JSON object")
    try:
        return ChatRequest.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        # A union reports every branch; the branch-free location names the field the client wrote.
        first = errors[0]
        loc = tuple(p for p in first["loc"] if not (isinstance(p, str) and ("[" in p or p.endswith(")"))))
        where = _path(loc)
        more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
        message = first["msg"]
        if where.endswith(".role") or where == "role":
            message = (
                f"unknown role {first.get('input')!r}; expected system, developer, user, assistant or tool"
            )
        raise ApiError(400, f"{where}: {message}{more}", param=where or None) from None
