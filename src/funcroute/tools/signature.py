"""Turn a Python function's signature into a pydantic validator and a JSON Schema.

Descriptions are gathered, highest priority first, from ``Annotated[..., Field(description=...)]``
(or a bare string in ``Annotated``), a ``Field(...)`` default, and the docstring's ``Args:`` /
``Parameters`` / ``:param:`` sections (parsed by ``docstring_parser``). Every problem with the
signature is collected and raised at once as :class:`ToolDefinitionError`.

The generated model names its fields ``p0, p1, ...`` with the real parameter names as aliases, so a
parameter may be called ``json``, ``schema`` or ``model_config`` without clashing with pydantic.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, get_args, get_origin

import docstring_parser
import pydantic
from pydantic import BaseModel, ConfigDict, Field
from pydantic.fields import FieldInfo

from funcroute._schema import inline_refs
from funcroute.errors import ToolDefinitionError

__all__ = ["FunctionSignature", "analyse_function"]

_ARGS_CONFIG = ConfigDict(
    extra="ignore",  # unknown keys are reported (or dropped) by the ToolSet, not here
    coerce_numbers_to_str=True,  # models often write 12345 for a string zip code
    arbitrary_types_allowed=False,
)


@dataclass(frozen=True)
class FunctionSignature:
    """What funcroute learned from a function.

    Attributes:
        description: the docstring's summary and body (without parameter sections), one paragraph.
        model: pydantic model validating the arguments (fields ``p0..pn`` aliased to real names).
        schema: JSON Schema of the arguments object, ``$ref``-free.
        fields: ``(field name, parameter name)`` pairs in signature order.
        positional: parameter names that must be passed positionally.
    """

    description: str
    model: type[BaseModel]
    schema: dict[str, Any]
    fields: tuple[tuple[str, str], ...]
    positional: frozenset[str]


def _description_in(annotation: Any) -> bool:
    """Whether an ``Annotated`` type already carries a description."""
    if get_origin(annotation) is not Annotated:
        return False
    return any(
        (isinstance(m, FieldInfo) and m.description) or isinstance(m, str) for m in get_args(annotation)[1:]
    )


def _with_alias(annotation: Any, alias: str, description: str | None) -> Any:
    """Wrap ``annotation`` so the field gets ``alias`` and, failing a better one, ``description``.

    Our ``Field`` goes first so that the user's own metadata, later in the list, wins.
    """
    ours = Field(alias=alias, description=description)
    if get_origin(annotation) is Annotated:
        base, *meta = get_args(annotation)
        meta = [Field(description=m) if isinstance(m, str) else m for m in meta]
        return Annotated.__class_getitem__((base, ours, *meta))
    return Annotated[annotation, ours]


def _clean_text(text: str | None) -> str:
    return " ".join((text or "").split())


def _docstring(fn: Callable[..., Any]) -> tuple[str, dict[str, str]]:
    doc = inspect.getdoc(fn) or ""
    if not doc:
        return "", {}
    parsed = docstring_parser.parse(doc)
    summary = " ".join(p for p in (parsed.short_description, parsed.long_description) if p)
    params = {p.arg_name: _clean_text(p.description) for p in parsed.params if p.description}
    return _clean_text(summary), params


def analyse_function(fn: Callable[..., Any], *, qualname: str) -> FunctionSignature:
    """Build the validator and schema for ``fn``; raise ToolDefinitionError listing every problem."""
    problems: list[str] = []
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError) as exc:
        raise ToolDefinitionError(qualname, [f"its signature cannot be read: {exc}"]) from None
    try:
        hints = typing.get_type_hints(fn, include_extras=True)
    except Exception as exc:  # unresolvable forward references, typos in annotations
        raise ToolDefinitionError(qualname, [f"its type hints cannot be resolved: {exc}"]) from None

    summary, doc_params = _docstring(fn)
    definitions: dict[str, Any] = {}
    annotations: dict[str, Any] = {}  # as written: the alias Field would warn outside a model
    fields: list[tuple[str, str]] = []
    positional: set[str] = set()
    for index, param in enumerate(signature.parameters.values()):
        if param.kind is inspect.Parameter.VAR_POSITIONAL:
            problems.append(f"*{param.name}: variable positional arguments cannot be filled by a model")
            continue
        if param.kind is inspect.Parameter.VAR_KEYWORD:
            problems.append(f"**{param.name}: variable keyword arguments have no schema")
            continue
        if param.name not in hints:
            problems.append(f"parameter {param.name!r} has no type annotation")
            continue
        annotation = hints[param.name]
        default: Any = ... if param.default is inspect.Parameter.empty else param.default
        described = _description_in(annotation) or (isinstance(default, FieldInfo) and default.description)
        description = None if described else doc_params.get(param.name)
        field_name = f"p{index}"
        definitions[field_name] = (_with_alias(annotation, param.name, description), default)
        annotations[field_name] = annotation
        fields.append((field_name, param.name))
        if param.kind is inspect.Parameter.POSITIONAL_ONLY:
            positional.add(param.name)

    unknown_doc = sorted(set(doc_params) - {alias for _, alias in fields})
    if unknown_doc and not problems:
        # A docstring documenting a parameter the function lacks is almost always a rename gone stale.
        problems.append(f"the docstring documents parameters the function does not have: {unknown_doc}")

    model: type[BaseModel] | None = None
    schema: dict[str, Any] = {}
    try:
        model = pydantic.create_model(f"{fn.__name__}_arguments", __config__=_ARGS_CONFIG, **definitions)
        schema = inline_refs(model.model_json_schema(by_alias=True))
    except Exception:  # pydantic's schema errors are several classes; all mean "unsupported"
        model = None
        problems.extend(_type_problems(fn.__name__, definitions, dict(fields)))
    if model is not None:
        problems.extend(_default_problems(annotations, definitions, dict(fields)))
    if problems or model is None:
        raise ToolDefinitionError(qualname, problems)
    schema.pop("title", None)
    return FunctionSignature(summary, model, schema, tuple(fields), frozenset(positional))


def _default_problems(
    annotations: dict[str, Any], definitions: dict[str, Any], aliases: dict[str, str]
) -> list[str]:
    """Defaults that do not fit their own annotation (``n: int = "three"``); ``None`` is allowed."""
    found = []
    for field_name, (_, default) in definitions.items():
        annotation = annotations[field_name]
        value = default.default if isinstance(default, FieldInfo) else default
        if value is ... or value is None or (isinstance(default, FieldInfo) and default.default_factory):
            continue
        if isinstance(default, FieldInfo) and default.metadata:  # Field(-1.0, gt=0): its own constraints
            for constraint in default.metadata:
                annotation = Annotated[annotation, constraint]
        try:
            pydantic.TypeAdapter(annotation).validate_python(value)
        except pydantic.ValidationError as exc:
            reason = exc.errors()[0].get("msg", "invalid") if exc.errors() else "invalid"
            found.append(
                f"parameter {aliases[field_name]!r}: the default {value!r:.60} does not fit its type: "
                + reason
            )
        except Exception:
            continue
    return found


def _type_problems(name: str, definitions: dict[str, Any], aliases: dict[str, str]) -> list[str]:
    """One problem per parameter whose type pydantic cannot validate or describe (error path only)."""
    found = []
    for field_name, definition in definitions.items():
        try:
            alone = pydantic.create_model(
                f"{name}_probe", __config__=_ARGS_CONFIG, **{field_name: definition}
            )
            inline_refs(alone.model_json_schema(by_alias=True))
        except Exception as exc:
            found.append(f"parameter {aliases[field_name]!r}: {_explain_pydantic_failure(exc)}")
    return found or ["the parameter types cannot be combined into one schema"]


def _explain_pydantic_failure(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return f"a parameter type has no JSON Schema or validator: {text}"
