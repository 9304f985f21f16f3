"""Running a validated call: approval, sync and async handlers, time limits, wrapped failures."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from funcroute.errors import CallRefusedError, HandlerError, HandlerTimeoutError, UsageError
from funcroute.tools.call import Call
from funcroute.tools.tool import Approver, Tool
from funcroute.tools.validators import Validated

__all__ = ["arun", "handler_failed", "require_approval", "run"]


def run(tool: Tool, validated: Validated, call: Call) -> Any:
    """Run a sync or async handler to completion in this thread (async: in a new event loop)."""
    handler = tool.handler
    assert handler is not None
    if tool.is_async:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(arun(tool, validated, call))
        raise UsageError(
            f"tool {tool.name!r} is async: use 'await tools.adispatch(call)' inside an event loop"
        )
    if tool.timeout is not None:
        return _run_with_watchdog(tool, validated, call)
    try:
        return handler(*validated.args, **validated.kwargs)
    except Exception as exc:
        raise handler_failed(tool, call, exc) from exc


def require_approval(tool: Tool, call: Call, approve: Approver | None) -> None:
    """Refuse the call unless ``approve`` accepts it (tools registered with ``confirm=True``)."""
    if approve is None:
        raise CallRefusedError(
            f"tool {tool.name!r} requires approval: pass approve=<callback> to dispatch or the router "
            "(CLI: --yes); "
            "the handler was not run",
            call,
        )
    try:
        approved = approve(call)
    except Exception as exc:
        raise CallRefusedError(f"the approval callback for {tool.name!r} raised {exc!r}", call) from exc
    if approved is not True:
        raise CallRefusedError(f"the call to {tool.name!r} was not approved; the handler was not run", call)


def handler_failed(tool: Tool, call: Call, exc: BaseException) -> HandlerError:
    """The HandlerError for ``exc`` raised by ``tool``'s handler (its cause is set by the caller)."""
    return HandlerError(f"tool {tool.name!r} raised {type(exc).__name__}: {exc}", call)


async def arun(tool: Tool, validated: Validated, call: Call) -> Any:
    """Run a handler on the event loop (sync handlers in a worker thread), under its time limit."""
    handler = tool.handler
    assert handler is not None
    try:
        if tool.is_async:
            running = handler(*validated.args, **validated.kwargs)
        elif tool.timeout is not None:
            running = _in_daemon_thread(tool, validated)  # abandoned, not joined, if it overruns
        else:
            running = asyncio.to_thread(handler, *validated.args, **validated.kwargs)
        if tool.timeout is None:
            return await running
        return await asyncio.wait_for(running, tool.timeout)
    except asyncio.TimeoutError:
        raise HandlerTimeoutError(
            f"tool {tool.name!r} did not finish within {tool.timeout} s", call
        ) from None
    except Exception as exc:
        raise handler_failed(tool, call, exc) from exc


def _in_daemon_thread(tool: Tool, validated: Validated) -> asyncio.Future[Any]:
    """Run a sync handler in a daemon thread the event loop does not own; a future settles with its result.

    ``asyncio.to_thread`` would use the loop's executor, which ``asyncio.run`` joins at shutdown: a
    handler that overran its time limit would then block the caller after all.
    """
    handler = tool.handler
    assert handler is not None
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():  # cancelled by the time limit
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def run() -> None:
        try:
            value, error = handler(*validated.args, **validated.kwargs), None
        except BaseException as exc:
            value, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    threading.Thread(target=run, name=f"funcroute-{tool.name}", daemon=True).start()
    return future


def _run_with_watchdog(tool: Tool, validated: Validated, call: Call) -> Any:
    """Run a sync handler in a daemon thread and stop waiting for it after ``tool.timeout``.

    Python cannot kill a thread: a handler that overruns keeps running in the background, but the
    caller is never blocked by it.
    """
    handler = tool.handler
    assert handler is not None
    outcome: dict[str, Any] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = handler(*validated.args, **validated.kwargs)
        except BaseException as exc:  # handed to the caller's thread below
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"funcroute-{tool.name}", daemon=True).start()
    if not done.wait(tool.timeout):
        raise HandlerTimeoutError(f"tool {tool.name!r} did not finish within {tool.timeout} s", call)
    if "error" in outcome:
        raise handler_failed(tool, call, outcome["error"]) from outcome["error"]
    return outcome.get("value")
