"""One tool: a name, a description, an arguments schema, a validator and (maybe) a handler."""

from __future__ import annotations

import dataclasses
import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from funcroute.errors import ToolDefinitionError
from funcroute.tools.call import Call
from funcroute.tools.signature import analyse_function
from funcroute.tools.validators import ArgumentValidator, PydanticValidator

__all__ = ["NAME", "Approver", "Tool", "check_timeout"]

#: Called with a validated call to a ``confirm=True`` tool; the handler runs only if it returns True.
Approver = Callable[[Call], bool]
#: What a tool name may look like.
NAME = re.compile(r"^[A-Za-z_][\w.\-]{0,127}$")


@dataclass(frozen=True, eq=False)
class Tool:
    """One callable tool.

    Attributes:
        name: the name the model calls it by.
        description: one paragraph shown to the model.
        schema: JSON Schema of the arguments object (``$ref``-free).
        handler: the function that runs the call; ``None`` for tools loaded from data unbound.
        validator: turns raw arguments into validated ones (pydantic or jsonschema based).
        source: where the tool came from (a qualified name or a spec path), for error messages.
        confirm: dispatch needs an approval callback that accepts the validated call.
        timeout: seconds the handler may run before the call fails with HandlerTimeoutError.
    """

    name: str
    description: str
    schema: dict[str, Any]
    handler: Callable[..., Any] | None = None
    validator: ArgumentValidator | None = field(default=None, repr=False)
    source: str = ""
    confirm: bool = False
    timeout: float | None = None

    @functools.cached_property
    def parameters(self) -> frozenset[str]:
        """Names of the top-level parameters."""
        return frozenset(self.schema.get("properties") or ())

    @functools.cached_property
    def is_async(self) -> bool:
        """Whether the handler is a coroutine function."""
        return self.handler is not None and inspect.iscoroutinefunction(self.handler)

    def replace(self, **changes: Any) -> Tool:
        """A copy with some fields changed (e.g. ``handler=...``)."""
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_function(
        cls,
        fn: Callable[..., Any],
        *,
        name: str | None = None,
        description: str | None = None,
        confirm: bool = False,
        timeout: float | None = None,
    ) -> Tool:
        """Build a tool from a type-hinted function (see :mod:`funcroute.tools.signature`)."""
        qualname = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
        tool_name: str = name or str(getattr(fn, "__name__", ""))
        if not NAME.match(tool_name or ""):
            raise ToolDefinitionError(qualname, [f"tool name {tool_name!r} is not a valid identifier"])
        signature = analyse_function(fn, qualname=qualname)
        return cls(
            name=tool_name,
            description=" ".join((description or signature.description).split()),
            schema=signature.schema,
            handler=fn,
            validator=PydanticValidator(signature),
            source=qualname,
            confirm=confirm,
            timeout=check_timeout(timeout, qualname),
        )


def check_timeout(timeout: float | None, qualname: str) -> float | None:
    """``timeout`` as float seconds, or a ToolDefinitionError naming ``qualname``."""
    if timeout is not None and not (isinstance(timeout, (int, float)) and 0 < timeout < float("inf")):
        raise ToolDefinitionError(
            qualname, [f"timeout must be a positive number of seconds, got {timeout!r}"]
        )
    return None if timeout is None else float(timeout)
