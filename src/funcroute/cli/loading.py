"""Resolve a ``--tools SPEC`` argument to a ToolSet.

SPEC is one of:

* a tool file: ``tools.yaml`` / ``tools.yml`` / ``tools.json``;
* a Python file: ``my_tools.py`` (run as a script; its ToolSet named ``tools``, or its only ToolSet);
* ``package.module:attribute`` naming a ToolSet (or a zero-argument function returning one);
* ``mcp:URL`` or ``mcp:COMMAND LINE``: the tools of an MCP server (``pip install "funcroute-llm[mcp]"``),
  connected until the process exits.

Python specs run code by design: they are the user's own program, exactly like ``python my_tools.py``.
"""

from __future__ import annotations

import importlib
import runpy
import sys
from pathlib import Path
from typing import Any

from funcroute._install import install_hint
from funcroute.errors import FuncRouteError, UsageError
from funcroute.tools.toolset import ToolSet

__all__ = ["load_toolset"]

_TOOL_FILE_SUFFIXES = (".yaml", ".yml", ".json")


def load_toolset(spec: str, *, dispatch: bool = True) -> ToolSet:
    """Load the ToolSet that ``spec`` names; errors are UsageError/ToolSpecError with a clear text.

    Args:
        spec: the ``--tools`` argument.
        dispatch: whether the command will run handlers. When not (``tools``, ``prompt``,
            ``validate``, ``eval --replies``, ``--dry-run``), a tool file whose handlers cannot be
            imported still loads, and one line on stderr says which handlers are left unbound.
    """
    if not spec or not spec.strip():
        raise UsageError("--tools needs a tool file, a Python file or module:attribute")
    if spec.startswith("mcp:"):
        if not spec[4:].strip():
            raise UsageError("--tools mcp: needs a server URL or command line after 'mcp:'")
        try:
            from funcroute.mcp.client import tools_from_mcp
        except ImportError as exc:
            raise UsageError(f"--tools mcp: needs the MCP SDK: {install_hint('mcp')} ({exc})") from None
        return tools_from_mcp(spec[4:].strip())
    path = Path(spec)
    if path.suffix.lower() in _TOOL_FILE_SUFFIXES:
        if not path.is_file():
            raise UsageError(f"tool file {spec!r} does not exist")
        if dispatch:
            return ToolSet.from_file(path)
        return _from_tool_file(path)
    if path.suffix.lower() == ".py":
        if not path.is_file():
            raise UsageError(f"Python file {spec!r} does not exist")
        return _from_python_file(path)
    if ":" in spec:
        return _from_module(spec)
    raise UsageError(
        f"cannot tell what {spec!r} is: give a .yaml/.yml/.json tool file, a .py file, or module:attribute"
    )


def _from_tool_file(path: Path) -> ToolSet:
    from funcroute.tools import loaders

    unbound: list[str] = []
    tools = ToolSet(loaders.tools_from_file(path, bind_handlers=True, unbound=unbound))
    if unbound:
        first = unbound[0].split(": ", 1)[-1]
        more = f" (and {len(unbound) - 1} more)" if len(unbound) > 1 else ""
        print(
            f"funcroute: note: {len(unbound)} handler(s) in {path} cannot be imported, so those tools "
            f"cannot run here: {first}{more}",
            file=sys.stderr,
        )
    return tools


def _from_python_file(path: Path) -> ToolSet:
    directory = str(path.resolve().parent)
    added = directory not in sys.path
    if added:
        sys.path.insert(0, directory)  # so the file can import its neighbours, as `python file.py` would
    try:
        namespace = runpy.run_path(str(path), run_name="__funcroute_tools__")
    except FuncRouteError:
        raise
    except Exception as exc:  # not BaseException: Ctrl-C (exit 130) and sys.exit() in the script pass
        raise UsageError(f"running {path} failed: {type(exc).__name__}: {exc}") from exc
    finally:
        if added:
            sys.path.remove(directory)
    return _pick_toolset(namespace, str(path))


def _from_module(spec: str) -> ToolSet:
    module_name, _, attribute = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import module {module_name!r} from {spec!r}: {exc}") from exc
    except Exception as exc:
        raise UsageError(f"importing {module_name!r} failed: {type(exc).__name__}: {exc}") from exc
    if not attribute:
        return _pick_toolset(vars(module), spec)
    value: Any = module
    for part in attribute.split("."):
        try:
            value = getattr(value, part)
        except AttributeError:
            raise UsageError(f"{module_name!r} has no attribute {attribute!r}") from None
    if callable(value) and not isinstance(value, ToolSet):
        try:
            value = value()
        except Exception as exc:
            raise UsageError(f"calling {spec!r} for a ToolSet failed: {type(exc).__name__}: {exc}") from exc
    if not isinstance(value, ToolSet):
        raise UsageError(f"{spec!r} is a {type(value).__name__}, not a ToolSet")
    return value


def _pick_toolset(namespace: dict[str, Any], source: str) -> ToolSet:
    if isinstance(namespace.get("tools"), ToolSet):
        return namespace["tools"]  # type: ignore[no-any-return]
    found = {name: v for name, v in namespace.items() if isinstance(v, ToolSet)}
    if len(found) == 1:
        return next(iter(found.values()))
    if not found:
        raise UsageError(f"{source} defines no ToolSet")
    raise UsageError(
        f"{source} defines several ToolSets ({', '.join(sorted(found))}); name one as module:attr"
    )
