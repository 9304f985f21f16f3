"""funcroute: natural-language commands to validated Python function calls, with local LLMs."""

from funcroute.errors import (
    BackendError,
    CallRefusedError,
    CallValidationError,
    DispatchError,
    FuncRouteError,
    HandlerError,
    HandlerNotBoundError,
    HandlerTimeoutError,
    ModelOutputError,
    NoSuitableFunctionError,
    OutputParseError,
    PartialCallsError,
    PlanExecutionError,
    PlanParseError,
    PlanProblem,
    PlanValidationError,
    TemplateError,
    ToolDefinitionError,
    ToolSpecError,
    UnknownFunctionError,
    UsageError,
    ValidationProblem,
)
from funcroute.parsing import ParseLimits
from funcroute.prompts.templates import ChatTemplate, get_template, register_template
from funcroute.routing.router import Router
from funcroute.tools.call import Call
from funcroute.tools.markers import Free, Grounded
from funcroute.tools.tool import Tool
from funcroute.tools.toolset import ToolSet

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "Call",
    "CallRefusedError",
    "CallValidationError",
    "ChatTemplate",
    "DispatchError",
    "Free",
    "FuncRouteError",
    "Grounded",
    "HandlerError",
    "HandlerNotBoundError",
    "HandlerTimeoutError",
    "ModelOutputError",
    "NoSuitableFunctionError",
    "OutputParseError",
    "ParseLimits",
    "PartialCallsError",
    "PlanExecutionError",
    "PlanParseError",
    "PlanProblem",
    "PlanValidationError",
    "Router",
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
