"""funcroute: natural-language commands to validated Python function calls, with local LLMs."""

from funcroute.errors import (
    BackendError,
    CallValidationError,
    DispatchError,
    FuncRouteError,
    HandlerError,
    HandlerNotBoundError,
    ModelOutputError,
    NoSuitableFunctionError,
    OutputParseError,
    PartialCallsError,
    TemplateError,
    ToolDefinitionError,
    ToolSpecError,
    UnknownFunctionError,
    UsageError,
    ValidationProblem,
)
from funcroute.parsing import ParseLimits
from funcroute.prompts.templates import ChatTemplate, get_template, register_template
from funcroute.tools.call import Call
from funcroute.tools.markers import Free, Grounded
from funcroute.tools.tool import Tool
from funcroute.tools.toolset import ToolSet

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "Call",
    "CallValidationError",
    "ChatTemplate",
    "DispatchError",
    "Free",
    "FuncRouteError",
    "Grounded",
    "HandlerError",
    "HandlerNotBoundError",
    "ModelOutputError",
    "NoSuitableFunctionError",
    "OutputParseError",
    "ParseLimits",
    "PartialCallsError",
    "TemplateError",
    "Tool",
    "ToolDefinitionError",
    "ToolSet",
    "ToolSpecError",
    "UnknownFunctionError",
    "UsageError",
    "ValidationProblem",
    "__version__",
    "get_template",
    "register_template",
]
