"""Where a parameter's value may come from, said in the type: ``Annotated[str, Grounded()]``.

Grounded decoding (:mod:`funcroute.constrain.grounding`) limits a *grounded* parameter to values the
user actually said: the command's numbers, addresses, paths, quoted strings or word spans. Types
decide by default (numbers, e-mail addresses, URLs and paths are grounded; free text such as a
message body is not); a marker overrides that for one parameter::

    def send_mail(
        to: Annotated[str, Grounded()],           # only an address the user wrote
        body: Annotated[str, Free()],             # the model writes it
    ) -> None: ...

The marker becomes the JSON Schema key ``x-grounded`` (``true``/``false``), which tool files may
also set directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Free", "Grounded"]


@dataclass(frozen=True)
class Grounded:
    """The parameter takes only a value found in what the user said (or its default, or a choice)."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema: dict[str, Any] = handler(core_schema)
        schema["x-grounded"] = True
        return schema


@dataclass(frozen=True)
class Free:
    """The parameter is free text the model writes (never limited to the user's words)."""

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: Any) -> dict[str, Any]:
        schema: dict[str, Any] = handler(core_schema)
        schema["x-grounded"] = False
        return schema
