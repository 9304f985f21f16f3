"""Read-only JSON containers, for data that one cache hands to many readers.

:meth:`ToolSet.json_schema(copy=False) <funcroute.tools.ToolSet.json_schema>` gives every
``Request`` the same schema object. A backend that edited it in place (adding a key for its
server, popping ``$schema``) would change every later request, silently. :func:`freeze` makes
that a ``TypeError`` at the line that tries.

The frozen types subclass ``dict`` and ``list`` rather than being a ``MappingProxyType`` or
tuples: ``json.dumps``, ``jsonschema`` (whose meta-schema calls an array a ``list``), llguidance
(fed ``json.dumps``) and the GBNF compiler (``isinstance(node, list)``) all take them unchanged.
``copy.deepcopy`` gives plain, mutable ``dict``/``list`` copies, so code that copies before
editing (``constrain.bounds.bound_schema``) keeps working; pickling keeps them frozen.
"""

from __future__ import annotations

from typing import Any, NoReturn

__all__ = ["FrozenDict", "FrozenList", "freeze", "thaw"]


def _refuse(self: object, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(
        f"this {type(self).__name__} is shared and read-only; copy it first "
        "(copy.deepcopy, or json_schema() without copy=False)"
    )


class FrozenDict(dict[str, Any]):
    """A ``dict`` whose mutators raise ``TypeError``; build one with :func:`freeze`."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __ior__ = _refuse  # refusing is the point
    clear = _refuse
    pop = _refuse
    popitem = _refuse
    setdefault = _refuse
    update = _refuse

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, Any]:
        thawed: dict[str, Any] = thaw(self)
        return thawed

    def __copy__(self) -> dict[str, Any]:
        return dict(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenDict, (dict(self),))


class FrozenList(list[Any]):
    """A ``list`` whose mutators raise ``TypeError``; build one with :func:`freeze`."""

    __slots__ = ()

    __setitem__ = _refuse
    __delitem__ = _refuse
    __iadd__ = _refuse  # refusing is the point
    __imul__ = _refuse
    append = _refuse
    clear = _refuse
    extend = _refuse
    insert = _refuse
    pop = _refuse
    remove = _refuse
    reverse = _refuse
    sort = _refuse

    def __deepcopy__(self, memo: dict[int, Any]) -> list[Any]:
        thawed: list[Any] = thaw(self)
        return thawed

    def __copy__(self) -> list[Any]:
        return list(self)

    def __reduce__(self) -> tuple[Any, ...]:
        return (FrozenList, (list(self),))


def freeze(value: Any) -> Any:
    """A deep read-only copy of JSON data: dicts become :class:`FrozenDict`, lists :class:`FrozenList`.

    Scalars are returned as they are. The input is not changed (nested containers are copied, so
    a frozen schema shares nothing mutable with the tool schemas it was built from).
    """
    if isinstance(value, dict):
        # dict.__init__ fills the new object without going through the refused __setitem__.
        return FrozenDict({key: freeze(item) for key, item in value.items()})
    if isinstance(value, (list, tuple)):
        return FrozenList(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """A deep plain (mutable) copy of JSON data, frozen or not."""
    if isinstance(value, dict):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, list):
        return [thaw(item) for item in value]
    return value
