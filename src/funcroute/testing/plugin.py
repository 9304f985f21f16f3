"""funcroute's pytest plugin (registered through the ``pytest11`` entry point; nothing to enable).

Fixtures:
    ``funcroute_backend``: a factory of fake backends: ``funcroute_backend(["reply", ...])`` gives a
        :class:`~funcroute.backends.scripted.ScriptedBackend`, ``funcroute_backend(fn)`` a
        :class:`~funcroute.backends.scripted.FunctionBackend`.
    ``funcroute_cassette``: the test's :class:`~funcroute.testing.cassette.Cassette`; name it with
        ``@pytest.mark.funcroute_cassette("name")``, get a backend with ``.backend(factory)``.
    ``funcroute_snapshot``: a :class:`~funcroute.testing.snapshot.PromptSnapshot` for the test.

Real backends are blocked: in a test without ``@pytest.mark.funcroute_real_backend``, constructing
a real backend (transformers, llama.cpp, an HTTP server: anything but the fakes and classes that
declare ``__funcroute_offline__ = True``) or asking one for a completion fails the test at once, so a
forgotten model call cannot download a model or hang on a server. Backends built in session or module
fixtures may be constructed (the guard acts per test) but not called. A fake of your own opts out
with :func:`offline_backend` (or by subclassing a fake). Turn the block off with
``funcroute_block_real_backends = false`` (ini) or ``--funcroute-allow-real-backends``.

Options: ``--funcroute-record[=none|new|all]`` (or ``FUNCROUTE_RECORD``) records cassettes;
``--funcroute-update-snapshots`` (or ``FUNCROUTE_UPDATE_SNAPSHOTS=1``) writes snapshots. Ini:
``funcroute_cassette_dir`` and ``funcroute_snapshot_dir`` (relative to the rootdir; default
``cassettes/`` and ``snapshots/`` beside each test file).

The guard patches :class:`~funcroute.backends.base.Backend` once per process (a ``__new__`` check,
and wrappers around real classes' ``complete``/``complete_many``/``acomplete``); outside a running test
they do nothing. Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import re
import weakref
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

import pytest

if TYPE_CHECKING:
    from funcroute.backends.base import Backend
    from funcroute.backends.scripted import FunctionBackend, ScriptedBackend
    from funcroute.testing.cassette import Cassette, RecordMode
    from funcroute.testing.snapshot import PromptSnapshot

__all__ = [
    "allow_real_backends",
    "funcroute_backend",
    "funcroute_cassette",
    "funcroute_snapshot",
    "offline_backend",
]

REAL_MARKER = "funcroute_real_backend"
CASSETTE_MARKER = "funcroute_cassette"
_OFFLINE = "__funcroute_offline__"
_GUARDED = "__funcroute_guarded__"
_METHODS = ("complete", "complete_many", "acomplete")
_SAFE = re.compile(r"[^\w.\-]+")
_RECORDED = pytest.StashKey[list[Path]]()
_SNAPSHOTS = pytest.StashKey[list[Path]]()
_MODES = pytest.StashKey[tuple[str, bool]]()  # record mode, update snapshots
C = TypeVar("C", bound=type)


def offline_backend(cls: C) -> C:
    """Class decorator: this Backend subclass is a fake that tests may use without opting in."""
    setattr(cls, _OFFLINE, True)
    return cls


# ---------------------------------------------------------------------------------------- guard


def _is_real(cls: type) -> bool:
    from funcroute.backends.scripted import FunctionBackend, ScriptedBackend

    return not (issubclass(cls, (ScriptedBackend, FunctionBackend)) or getattr(cls, _OFFLINE, False) is True)


class _Guard:
    """Which test is running and whether it may use real backends (state shared by all patches)."""

    def __init__(self) -> None:
        # One frame per running test, innermost last: pytester runs tests inside tests.
        self.frames: list[tuple[bool, str]] = []
        self.allow_depth = 0
        self.permitted: weakref.WeakSet[Any] = weakref.WeakSet()
        self.installed = False

    def check(self, target: Any, action: str) -> None:
        if self.allow_depth or not self.frames or not self.frames[-1][0]:
            return
        if not isinstance(target, type):
            with contextlib.suppress(TypeError):
                if target in self.permitted:
                    return
        cls = target if isinstance(target, type) else type(target)
        if _is_real(cls):
            __tracebackhide__ = True
            pytest.fail(_refusal(cls, action, self.frames[-1][1]))

    @contextlib.contextmanager
    def allowed(self) -> Iterator[None]:
        self.allow_depth += 1
        try:
            yield
        finally:
            self.allow_depth -= 1

    def permit(self, backend: Backend) -> None:
        with contextlib.suppress(TypeError):  # an instance that cannot be weakly referenced
            self.permitted.add(backend)

    def install(self) -> None:
        """Patch Backend construction once, and wrap the real classes that exist by now."""
        from funcroute.backends.base import Backend

        if not self.installed:
            guard = self

            def guarded_new(cls: type, *args: Any, **kwargs: Any) -> Any:
                guard.check(cls, "constructed")
                return object.__new__(cls)

            # The constructor is where a model download starts: check before __init__ runs.
            Backend.__new__ = staticmethod(guarded_new)  # type: ignore[method-assign]
            self.installed = True
        todo = list(Backend.__subclasses__())
        while todo:
            cls = todo.pop()
            todo += cls.__subclasses__()
            if _is_real(cls):
                for name in _METHODS:
                    method = cls.__dict__.get(name)
                    if callable(method) and not getattr(method, _GUARDED, False):
                        setattr(cls, name, _guarded(method, name))


_GUARD = _Guard()


def _guarded(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    action = f"asked for a completion ({name})"
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def async_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            _GUARD.check(self, action)
            return await method(self, *args, **kwargs)

        wrapper: Callable[..., Any] = async_wrapper
    else:

        @functools.wraps(method)
        def sync_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            _GUARD.check(self, action)
            return method(self, *args, **kwargs)

        wrapper = sync_wrapper
    setattr(wrapper, _GUARDED, True)
    return wrapper


def _refusal(cls: type, action: str, nodeid: str) -> str:
    return (
        f"funcroute blocked a real model backend: {cls.__module__}.{cls.__qualname__} was {action} in "
        f"{nodeid}. Tests run offline unless they opt in, so a forgotten model call fails here instead "
        "of downloading a model or waiting on a server. Use a fake (the funcroute_backend fixture, "
        "ScriptedBackend, FunctionBackend), replay a cassette (@pytest.mark.funcroute_cassette and the "
        f"funcroute_cassette fixture), or opt in with @pytest.mark.{REAL_MARKER}."
    )


@contextlib.contextmanager
def allow_real_backends() -> Iterator[None]:
    """Let real backends be constructed and called inside this block, even in a blocked test."""
    with _GUARD.allowed():
        yield


# ---------------------------------------------------------------------------------------- hooks


def pytest_addoption(parser: pytest.Parser) -> None:
    """Register funcroute's command-line options and ini keys."""
    group = parser.getgroup("funcroute", "funcroute: fake backends, cassettes and prompt snapshots")
    group.addoption(
        "--funcroute-record",
        nargs="?",
        const="new",
        default=None,
        choices=("none", "new", "all"),
        help="record cassettes with real backends: 'new' (the default when given) records missing "
        "cassettes, 'all' records every cassette again, 'none' only replays. Env: FUNCROUTE_RECORD",
    )
    group.addoption(
        "--funcroute-update-snapshots",
        action="store_true",
        default=False,
        help="write prompt snapshots instead of comparing them. Env: FUNCROUTE_UPDATE_SNAPSHOTS=1",
    )
    group.addoption(
        "--funcroute-allow-real-backends",
        action="store_true",
        default=False,
        help="let every test use real model backends (they are blocked unless a test is marked)",
    )
    parser.addini(
        "funcroute_block_real_backends",
        "fail tests that use a real model backend without @pytest.mark.funcroute_real_backend",
        type="bool",
        default=True,
    )
    parser.addini("funcroute_cassette_dir", "cassette folder, relative to the rootdir", default="")
    parser.addini("funcroute_snapshot_dir", "prompt snapshot folder, relative to the rootdir", default="")


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers (``--strict-markers`` safe) and the run's bookkeeping."""
    config.addinivalue_line(
        "markers",
        f"{REAL_MARKER}: let this test construct and call real model backends "
        "(transformers, llama.cpp, HTTP servers); they are blocked otherwise",
    )
    config.addinivalue_line(
        "markers",
        f"{CASSETTE_MARKER}(name): the cassette the funcroute_cassette fixture records to and replays "
        "from (cassettes/<name>.yaml beside the test file)",
    )
    config.stash[_RECORDED] = []
    config.stash[_SNAPSHOTS] = []
    update = os.environ.get("FUNCROUTE_UPDATE_SNAPSHOTS", "").strip().lower() in ("1", "yes", "true")
    config.stash[_MODES] = (
        _record_mode(config),
        update or bool(config.getoption("funcroute_update_snapshots")),
    )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """List the cassettes recorded and snapshots written in this run (files to review and commit)."""
    recorded = config.stash.get(_RECORDED, [])
    written = config.stash.get(_SNAPSHOTS, [])
    if recorded or written:
        terminalreporter.write_sep("-", "funcroute")
        for path in recorded:
            terminalreporter.write_line(f"recorded cassette {path}")
        for path in written:
            terminalreporter.write_line(f"wrote snapshot {path}")


def _record_mode(config: pytest.Config) -> str:
    option = config.getoption("funcroute_record")
    if option is not None:
        return str(option)
    value = os.environ.get("FUNCROUTE_RECORD", "").strip().lower()
    if value in ("", "0", "no", "false", "none"):
        return "none"
    if value == "all":
        return "all"
    if value in ("1", "yes", "true", "new"):
        return "new"
    raise pytest.UsageError(f"FUNCROUTE_RECORD must be none, new or all, got {value!r}")


def _folder(request: pytest.FixtureRequest, key: str, default: str) -> Path:
    configured = str(request.config.getini(key) or "").strip()
    if configured:
        return request.config.rootpath / configured
    return request.path.parent / default


def _test_name(request: pytest.FixtureRequest) -> str:
    return _SAFE.sub("_", f"{request.path.stem}.{request.node.name}").strip("_")


# -------------------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def _funcroute_guard(request: pytest.FixtureRequest) -> Iterator[None]:
    """Block real backends for the duration of every test that is not marked."""
    config = request.config
    block = (
        bool(config.getini("funcroute_block_real_backends"))
        and not config.getoption("funcroute_allow_real_backends")
        and request.node.get_closest_marker(REAL_MARKER) is None
    )
    _GUARD.install()
    _GUARD.frames.append((block, request.node.nodeid))
    try:
        yield
    finally:
        _GUARD.frames.pop()


BackendFactory = Callable[..., "ScriptedBackend | FunctionBackend"]


@pytest.fixture
def funcroute_backend() -> BackendFactory:
    """Make fake backends: ``funcroute_backend("reply")``, ``(["r1", "r2"], cycle=True)`` or ``(fn)``."""
    from funcroute.backends.scripted import FunctionBackend, ScriptedBackend

    def make(replies: Any, *, cycle: bool = False) -> ScriptedBackend | FunctionBackend:
        if callable(replies):
            return FunctionBackend(replies)
        if isinstance(replies, str) or not isinstance(replies, Iterable):
            replies = [replies]
        return ScriptedBackend(replies, cycle=cycle)

    return make


@pytest.fixture
def funcroute_cassette(request: pytest.FixtureRequest) -> Iterator[Cassette]:
    """The test's cassette; written when the test ends if this run recorded it."""
    from funcroute.testing.cassette import Cassette

    marker = request.node.get_closest_marker(CASSETTE_MARKER)
    name: Any = None
    if marker is not None:
        name = marker.args[0] if marker.args else marker.kwargs.get("name")
        if not isinstance(name, str) or not name.strip():
            raise pytest.UsageError(f"@pytest.mark.{CASSETTE_MARKER} needs a cassette name, got {name!r}")
    stem = _SAFE.sub("_", name).strip("_") if name else _test_name(request)
    cassette = Cassette(
        _folder(request, "funcroute_cassette_dir", "cassettes") / f"{stem}.yaml",
        cast("RecordMode", request.config.stash[_MODES][0]),
        _GUARD,
    )
    yield cassette
    if cassette.save():
        request.config.stash[_RECORDED].append(cassette.path)


@pytest.fixture
def funcroute_snapshot(request: pytest.FixtureRequest) -> Iterator[PromptSnapshot]:
    """A prompt snapshot helper; files default to ``snapshots/<module>.<test>.txt``."""
    from funcroute.testing.snapshot import PromptSnapshot

    update = request.config.stash[_MODES][1]
    snapshot = PromptSnapshot(
        _folder(request, "funcroute_snapshot_dir", "snapshots"), _test_name(request), update=update
    )
    yield snapshot
    request.config.stash[_SNAPSHOTS].extend(snapshot.written)
