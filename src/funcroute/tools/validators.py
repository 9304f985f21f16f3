"""Argument validators: pydantic for Python functions, jsonschema for tools loaded from data.

Both turn a JSON-like ``dict`` into a :class:`Validated` (JSON-compatible arguments plus the typed
values a handler receives) or raise :class:`InvalidArguments` listing every problem with a dotted
path, so the rest of funcroute never needs to know which kind of tool it holds.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Protocol

import jsonschema
from pydantic import BaseModel, ValidationError
from pydantic_core import PydanticSerializationError

from funcroute.errors import ValidationProblem
from funcroute.tools.signature import FunctionSignature

__all__ = ["ArgumentValidator", "InvalidArguments", "JsonSchemaValidator", "PydanticValidator", "Validated"]

_MAX_MESSAGE = 240
_PLAIN = (str, int, bool, type(None))


def _non_finite_at(value: Any, depth: int = 0) -> list[str] | None:
    """The path to a NaN/Infinity inside a validated value (models, dataclasses, containers)."""
    if isinstance(value, float):
        return None if math.isfinite(value) else []
    if depth > 64 or isinstance(value, _PLAIN):
        return None
    if isinstance(value, BaseModel):
        children: Any = value.__dict__.items()
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        children = ((f.name, getattr(value, f.name)) for f in dataclasses.fields(value))
    elif isinstance(value, dict):
        children = value.items()
    elif isinstance(value, (list, tuple, set, frozenset)):
        children = enumerate(value)
    else:
        return None
    for key, child in children:
        found = _non_finite_at(child, depth + 1)
        if found is not None:
            return [str(key), *found]
    return None


_NO_FLOAT_LEAVES = frozenset({str, int, bool, type(None), bytes})


def _float_free(annotation: Any, seen: frozenset[Any] = frozenset()) -> bool:
    """Whether no value of ``annotation`` can hold a float (so no NaN/Infinity scan is needed).

    Conservative: only plain scalars, literals of them, ``Optional``/unions, lists, tuples,
    sets, string-keyed dicts and pydantic models built of those qualify; anything else is scanned.
    """
    if annotation in _NO_FLOAT_LEAVES:
        return True
    if annotation in seen or len(seen) > 32:
        return False  # recursive models: scan rather than prove
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _float_free(args[0], seen)
    if origin is typing.Literal:
        return all(type(a) in _NO_FLOAT_LEAVES or isinstance(a, str) for a in args)
    if origin in (typing.Union, types.UnionType, list, tuple, set, frozenset, dict):
        return bool(args) and all(a is Ellipsis or _float_free(a, seen) for a in args)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        inner = seen | {annotation}
        return all(_float_free(f.annotation, inner) for f in annotation.model_fields.values())
    return False


@dataclass(frozen=True, init=False)
class Validated:
    """Validated arguments.

    Attributes:
        arguments: JSON-compatible values, only the parameters the model gave.
        args: positional values for the handler.
        kwargs: keyword values for the handler (typed: nested models arrive as model instances).
    """

    arguments: dict[str, Any]
    args: tuple[Any, ...]
    kwargs: dict[str, Any]

    def __init__(self, arguments: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        # One is built per parsed call: filling __dict__ directly skips the frozen dataclass's
        # object.__setattr__ per field (a third of a microsecond); the instance stays read-only.
        fields = self.__dict__
        fields["arguments"] = arguments
        fields["args"] = args
        fields["kwargs"] = kwargs


class InvalidArguments(Exception):
    """Raised by a validator; carries every problem found."""

    def __init__(self, problems: list[ValidationProblem]) -> None:
        self.problems = problems
        super().__init__("; ".join(map(str, problems)))


class ArgumentValidator(Protocol):
    """Validates one tool's arguments."""

    def __call__(self, arguments: dict[str, Any]) -> Validated:
        """Validate ``arguments`` or raise InvalidArguments."""
        ...


def _short(text: str) -> str:
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


class PydanticValidator:
    """Validates with the pydantic model built from a function signature."""

    __slots__ = ("_fields", "_model", "_plain", "_positional", "_scan", "_serialize", "_validate")

    def __init__(self, signature: FunctionSignature) -> None:
        self._model = signature.model
        self._fields = signature.fields
        self._positional = signature.positional
        # The model's own validator and serializer, called directly: model_validate/model_dump
        # are Python wrappers that re-check their options on every call (~0.6 us each).
        self._validate = signature.model.__pydantic_validator__.validate_python
        self._serialize = signature.model.__pydantic_serializer__.to_python
        self._plain = _plain_fields(signature)  # None: the dump needs pydantic's serializer
        # Only fields whose type could hold a float are scanned for NaN/Infinity after validation.
        model_fields = signature.model.model_fields
        self._scan = tuple(
            (name, alias)
            for name, alias in signature.fields
            if not _float_free(model_fields[name].annotation)
        )

    def __call__(self, arguments: dict[str, Any]) -> Validated:
        """Validate ``arguments`` (keys are the real parameter names)."""
        try:
            model = self._validate(arguments)
        except ValidationError as exc:
            raise InvalidArguments(
                [
                    ValidationProblem(".".join(str(p) for p in err["loc"]), _short(err["msg"]), err["type"])
                    for err in exc.errors(include_url=False, include_context=False, include_input=False)
                ]
            ) from None
        values = model.__dict__
        for alias_field, alias in self._scan:
            value = values[alias_field]
            where = None if type(value) in _PLAIN else _non_finite_at(value)
            if where is not None:
                # pydantic reads "nan"/"inf" strings as floats; a call must never carry them.
                path = ".".join([alias, *where])
                message = "Input should be a finite number (NaN and Infinity are not allowed)"
                raise InvalidArguments([ValidationProblem(path, message, "finite_number")])
        if self._positional:
            args = tuple(values[f] for f, alias in self._fields if alias in self._positional)
            kwargs = {alias: values[f] for f, alias in self._fields if alias not in self._positional}
        else:
            args = ()
            kwargs = {alias: values[f] for f, alias in self._fields}
        if self._plain is not None:
            # Every field is a plain str/int/float/bool: the JSON dump of such a value is the
            # value itself, so the dump is read off the model when each given value has exactly
            # its field's type (anything else, e.g. a str subclass, goes through the serializer).
            given = model.__pydantic_fields_set__
            dumped = {}
            for name, alias, kind in self._plain:
                if name in given:
                    value = values[name]
                    if type(value) is not kind:
                        break
                    dumped[alias] = value
            else:
                return Validated(dumped, args, kwargs)
        try:
            dumped = self._serialize(model, mode="json", by_alias=True, exclude_unset=True)
        except PydanticSerializationError as exc:
            raise InvalidArguments([ValidationProblem("", f"not JSON data: {exc}", "json_type")]) from None
        return Validated(dumped, args, kwargs)


_PLAIN_KINDS = frozenset({str, int, float, bool})


def _plain_fields(signature: FunctionSignature) -> tuple[tuple[str, str, type], ...] | None:
    """``(field, alias, type)`` of every field when all are plain scalars the JSON dump leaves as they are.

    Plain: annotated exactly ``str``/``int``/``float``/``bool``, no metadata (constraints,
    validators, serializers: anything pydantic might apply), not excluded from dumps, and no
    serializer decorators on the model. ``None`` when any field is not: the serializer runs.
    """
    model = signature.model
    decorators = model.__pydantic_decorators__
    if decorators.field_serializers or decorators.model_serializers:
        return None
    plain: list[tuple[str, str, type]] = []
    model_fields = model.model_fields
    for name, alias in signature.fields:
        info = model_fields[name]
        kind = info.annotation
        if kind not in _PLAIN_KINDS or info.metadata or info.exclude or not isinstance(kind, type):
            return None
        plain.append((name, alias, kind))
    return tuple(plain)


class JsonSchemaValidator:
    """Validates with a JSON Schema (tools from files, OpenAI specs, BFCL docs)."""

    __slots__ = ("_validator",)

    def __init__(self, schema: dict[str, Any]) -> None:
        cls = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
        cls.check_schema(schema)
        self._validator = cls(schema)

    def __call__(self, arguments: dict[str, Any]) -> Validated:
        """Validate ``arguments``; values pass through unchanged (they are already JSON)."""
        errors = list(self._validator.iter_errors(arguments))
        if errors:
            raise InvalidArguments(
                [_problem(e) for e in sorted(errors, key=lambda e: list(map(str, e.path)))]
            )
        copied = dict(arguments)  # the caller's dict stays theirs to mutate
        return Validated(copied, (), copied)


def _problem(error: jsonschema.ValidationError) -> ValidationProblem:
    path = [str(p) for p in error.absolute_path]
    kind = str(error.validator)
    message = error.message
    if kind == "required" and isinstance(error.validator_value, list):
        # jsonschema yields one error per missing property; its message starts with the name's repr.
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [str(n) for n in error.validator_value if n not in instance]
        named = [n for n in missing if message.startswith(repr(n))]
        if missing:
            path.append((named or missing)[0])
            message = "Field required"
            kind = "missing"
    elif kind == "additionalProperties":
        kind = "extra_forbidden"
    return ValidationProblem(".".join(path), _short(message), kind)
