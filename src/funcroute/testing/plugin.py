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

The block is a flag, :data:`funcroute.testing.guard.ALLOW_MODEL_REQUESTS`, which the plugin turns
off for each unmarked test; backends call :func:`funcroute.testing.guard.check_allowed` where a model
could be loaded or asked. Backend classes that do not make that call themselves (your own, say) get
a thin checking wrapper around the constructor and completion methods they define. Outside a running
test the flag is on. Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, cast

import pytest

from funcroute.testing import guard

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
#: A backend class that calls :func:`funcroute.testing.guard.check_allowed` in its own constructor
#: and completion methods declares ``__funcroute_checks_requests__ = True``; the plugin wraps the
#: methods of every other real backend class (your own, say) to make the same check.
CHECKS_REQUESTS = "__funcroute_checks_requests__"
_GUARDED = "__funcroute_guarded__"
_METHODS = ("__init__", "complete", "complete_many", "acomplete")
_SAFE = re.compile(r"[^\w.\-]+")
_RECORDED = pytest.StashKey[list[Path]]()
_SNAPSHOTS = pytest.StashKey[list[Path]]()
_MODES = pytest.StashKey[tuple[str, bool]]()  # record mode, update snapshots

offline_backend = guard.offline_backend


# ---------------------------------------------------------------------------------------- guard


def _fail(message: str) -> NoReturn:
    __tracebackhide__ = True
    pytest.fail(message)


class _Gate:
    """The gate a cassette records through (a :class:`~funcroute.testing.cassette.RealBackendGate`)."""

    def allowed(self) -> contextlib.AbstractContextManager[None]:
        return guard.allow_model_requests()

    def permit(self, backend: Backend) -> None:
        guard.permit(backend)


def _wrap_unchecked_backends() -> None:
    """Give real backend classes that do not check the flag themselves a checking wrapper.

    Only methods a class defines itself are wrapped, once; fakes and classes that declare
    :data:`CHECKS_REQUESTS` are left as they are.
    """
    from funcroute.backends.base import Backend

    todo = list(Backend.__subclasses__())
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if not guard.is_real(cls) or cls.__dict__.get(CHECKS_REQUESTS, False) is True:
            continue
        for name in _METHODS:
            method = cls.__dict__.get(name)
            if callable(method) and not getattr(method, _GUARDED, False):
                setattr(cls, name, _guarded(method, name))


def _guarded(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    # The constructor is where a model download starts: check before the original runs.
    action = "constructed" if name == "__init__" else f"asked for a completion ({name})"
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def async_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            guard.check_allowed(self, action)
            return await method(self, *args, **kwargs)

        wrapper: Callable[..., Any] = async_wrapper
    else:

        @functools.wraps(method)
        def sync_wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            guard.check_allowed(self, action)
            return method(self, *args, **kwargs)

        wrapper = sync_wrapper
    setattr(wrapper, _GUARDED, True)
    return wrapper


def allow_real_backends() -> contextlib.AbstractContextManager[None]:
    """Let real backends be constructed and called inside this block, even in a blocked test."""
    return guard.allow_model_requests()


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
    _wrap_unchecked_backends()
    # The innermost test decides: pytester runs tests inside tests, each with its own setting.
    with guard.model_requests(not block, where=request.node.nodeid, refuse=_fail):
        yield


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
        _Gate(),
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
