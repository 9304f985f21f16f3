"""The switch that keeps tests offline: may real model backends be used right now?

As pydantic-ai's ``ALLOW_MODEL_REQUESTS``: one module-level flag, and one function every real
backend calls where a model could be loaded or asked (its constructor, ``complete``,
``complete_many``, ``acomplete``)::

    from funcroute.testing import guard

    class MyBackend(Backend):
        def complete(self, request):
            guard.check_allowed(self)
            ...

The flag is ``True`` (allowed) unless something turns it off: the pytest plugin does, for each test
not marked ``funcroute_real_backend`` (see :mod:`funcroute.testing.plugin`), and any program may
set ``guard.ALLOW_MODEL_REQUESTS = False`` itself. It is process-wide on purpose, not per thread or
context: backends answer from thread pools and event loops that a ``ContextVar`` would not follow.

Fakes pass always: :class:`~funcroute.backends.scripted.ScriptedBackend`,
:class:`~funcroute.backends.scripted.FunctionBackend`, their subclasses, and classes marked with
:func:`offline_backend`. So do instances let through with :func:`permit` (a cassette's recorded
backend) and anything inside :func:`allow_model_requests`.

Checking costs one attribute read while the flag is on. This module imports only the error tree,
so any backend may import it.
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Callable, Iterator
from typing import Any, NoReturn, TypeVar

from funcroute.errors import UsageError

__all__ = [
    "ALLOW_MODEL_REQUESTS",
    "allow_model_requests",
    "block_model_requests",
    "check_allowed",
    "is_real",
    "model_requests",
    "offline_backend",
    "permit",
]

#: Whether real model backends may be constructed and called. ``False`` blocks every real backend.
ALLOW_MODEL_REQUESTS = True

_OFFLINE = "__funcroute_offline__"
C = TypeVar("C", bound=type)
Refuse = Callable[[str], NoReturn]


def _raise_usage_error(message: str) -> NoReturn:
    raise UsageError(message)


class _State:
    """What the flag alone cannot say: who blocked, how to refuse, and the exceptions."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.blocks: list[tuple[bool, str, Refuse]] = []  # (previous flag, where, refuse), innermost last
        self.allow_depth = 0
        self.permitted: weakref.WeakSet[Any] = weakref.WeakSet()


_STATE = _State()


def offline_backend(cls: C) -> C:
    """Class decorator: this Backend subclass is a fake, usable while real backends are blocked."""
    setattr(cls, _OFFLINE, True)
    return cls


# The fakes, by class path: backends import this module, so it must not import them (a circle).
_FAKES = frozenset(f"funcroute.backends.scripted.{name}" for name in ("ScriptedBackend", "FunctionBackend"))


def is_real(cls: type) -> bool:
    """Whether instances of ``cls`` count as real backends (anything but the fakes)."""
    if getattr(cls, _OFFLINE, False) is True:
        return False
    return not any(f"{base.__module__}.{base.__qualname__}" in _FAKES for base in cls.__mro__)


def check_allowed(backend: object, action: str = "asked for a completion") -> None:
    """Refuse if real backends are blocked now and ``backend`` (an instance or a class) is real.

    Args:
        backend: the backend (``self``), or its class.
        action: what it was about to do, for the message (``"constructed"``, ``"asked for a
            completion (complete)"``...).

    Raises:
        UsageError: blocked, outside pytest; in a test the plugin fails the test instead (with an
            exception that ``except Exception`` does not swallow).
    """
    if ALLOW_MODEL_REQUESTS or _STATE.allow_depth:
        return
    if not isinstance(backend, type):
        with contextlib.suppress(TypeError):  # an instance that cannot be weakly referenced
            if backend in _STATE.permitted:
                return
    cls = backend if isinstance(backend, type) else type(backend)
    if not is_real(cls):
        return
    blocks = _STATE.blocks
    where, refuse = (blocks[-1][1], blocks[-1][2]) if blocks else ("", _raise_usage_error)
    __tracebackhide__ = True
    refuse(_refusal(cls, action, where))


def _refusal(cls: type, action: str, where: str) -> str:
    place = f" in {where}" if where else ""
    return (
        f"funcroute blocked a real model backend: {cls.__module__}.{cls.__qualname__} was {action}"
        f"{place}. Tests run offline unless they opt in, so a forgotten model call fails here instead "
        "of downloading a model or waiting on a server. Use a fake (the funcroute_backend fixture, "
        "ScriptedBackend, FunctionBackend), replay a cassette (@pytest.mark.funcroute_cassette and the "
        "funcroute_cassette fixture), or opt in with @pytest.mark.funcroute_real_backend."
    )


@contextlib.contextmanager
def model_requests(allowed: bool, *, where: str = "", refuse: Refuse | None = None) -> Iterator[None]:
    """Set the flag inside this block (nestable: the innermost block decides); restored on exit.

    Args:
        allowed: the flag's value inside the block.
        where: named in a refusal (the plugin passes the test's node id).
        refuse: called with the message instead of raising :class:`UsageError` (the plugin passes
            ``pytest.fail``).
    """
    global ALLOW_MODEL_REQUESTS
    with _STATE.lock:
        _STATE.blocks.append((ALLOW_MODEL_REQUESTS, where, refuse or _raise_usage_error))
        ALLOW_MODEL_REQUESTS = allowed
    try:
        yield
    finally:
        with _STATE.lock:
            previous, _, _ = _STATE.blocks.pop()
            ALLOW_MODEL_REQUESTS = previous


def block_model_requests(
    where: str = "", refuse: Refuse | None = None
) -> contextlib.AbstractContextManager[None]:
    """Block real backends inside this block: ``model_requests(False, ...)``."""
    return model_requests(False, where=where, refuse=refuse)


@contextlib.contextmanager
def allow_model_requests() -> Iterator[None]:
    """Let real backends be constructed and called inside this block, even while blocked."""
    with _STATE.lock:
        _STATE.allow_depth += 1
    try:
        yield
    finally:
        with _STATE.lock:
            _STATE.allow_depth -= 1


def permit(backend: object) -> None:
    """Let this one backend instance through the block for as long as it lives."""
    with contextlib.suppress(TypeError):  # an instance that cannot be weakly referenced
        _STATE.permitted.add(backend)
