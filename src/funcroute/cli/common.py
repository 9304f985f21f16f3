"""What every ``funcroute`` command shares: exit codes, bounded input, the model flags, the backend."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from funcroute.cli.loading import load_toolset
from funcroute.errors import UsageError

__all__ = [
    "EXIT_BACKEND",
    "EXIT_BROKEN_PIPE",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "approver",
    "backend_from_args",
    "check_model_options",
    "model_options",
    "print_json",
    "read_text",
    "router_from_args",
    "tool_format_option",
]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BACKEND = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141
_MAX_INPUT_BYTES = 16 * 1024 * 1024


def read_text(source: str | None) -> str:
    """Read FILE, or stdin for ``-``/nothing; bounded, and decoding errors become UsageError."""
    try:
        if source in (None, "-"):
            data = sys.stdin.buffer.read(_MAX_INPUT_BYTES + 1)
        else:
            with Path(source).open("rb") as handle:
                data = handle.read(_MAX_INPUT_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
    if len(data) > _MAX_INPUT_BYTES:
        raise UsageError(f"{source or 'stdin'} is larger than {_MAX_INPUT_BYTES} bytes")
    return data.decode("utf-8", errors="replace")


def print_json(value: Any) -> None:
    """Print ``value`` as indented JSON (non-JSON values as their text)."""
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def backend_from_args(args: argparse.Namespace) -> Any:
    """The backend the flags name, or ``None`` for the router's offline default."""
    if args.model and args.endpoint:
        raise UsageError("give either --model or --endpoint, not both")
    if args.endpoint:
        if not args.model_name:
            raise UsageError("--endpoint needs --model-name (the model's name on that server)")
        from funcroute.backends.openai import OpenAIBackend

        api_key = args.api_key or os.environ.get("FUNCROUTE_API_KEY")
        if len(args.endpoint) > 1 or getattr(args, "fleet", False):
            from funcroute.cli.fleet import fleet_backend

            return fleet_backend(args, api_key)
        return OpenAIBackend(args.endpoint[0], args.model_name, api_key=api_key, timeout=args.timeout)
    if args.model:
        from funcroute.cli.cascade import is_preset, preset_backend

        if is_preset(args.model):  # a bundled model (smollm2): no download, its own chat template
            return preset_backend(args)
        if str(args.model).endswith(".gguf"):
            from funcroute.backends.llamacpp import LlamaCppBackend

            return LlamaCppBackend(args.model)
        from funcroute.backends.transformers import TransformersBackend

        return TransformersBackend(args.model)
    return None


def check_model_options(args: argparse.Namespace) -> None:
    """Refuse contradictory model flags in CLI words (the Router would say it in Python's)."""
    if args.max_retries < 0 or args.max_new_tokens < 1:
        raise UsageError("--max-retries must be >= 0 and --max-new-tokens >= 1")
    if args.constrained and args.format != "json":
        raise UsageError("--constrained produces JSON calls: use it with --format json (the default)")


def router_from_args(args: argparse.Namespace, backend: Any = None) -> Any:
    """The Router the flags describe (tools, model, template, retries, approval, audit log)."""
    from funcroute.routing.router import Router

    check_model_options(args)
    backend = backend if backend is not None else backend_from_args(args)
    if backend is None:
        print(
            "funcroute: no --model/--endpoint: routing offline with the semantic router (no LLM)",
            file=sys.stderr,
        )
    return Router(
        load_toolset(args.tools, dispatch=not args.dry_run),
        backend,
        format=args.format,
        template=args.template or "airoboros-2",
        max_retries=args.max_retries,
        max_new_tokens=args.max_new_tokens,
        constrained=args.constrained,
        approve=approver(args),
        audit_log=args.audit_log,
        tool_format=args.tool_format,
    )


def approver(args: argparse.Namespace) -> Any:
    """Approval for ``confirm=True`` tools: ``--yes``, or a y/N question on a terminal; else refused."""
    if args.yes:
        return lambda call: True
    if not sys.stdin.isatty():
        return None  # refused with a clear CallRefusedError naming --yes

    def ask(call: Any) -> bool:
        arguments = json.dumps(call.arguments, ensure_ascii=False)
        answer = input(f"Run {call.function}({arguments})? [y/N] ")
        return answer.strip().lower() in ("y", "yes")

    return ask


def tool_format_option(cmd: argparse.ArgumentParser) -> None:
    """Add ``--tool-format`` (how the model writes calls)."""
    from funcroute.formats import format_names

    cmd.add_argument(
        "--tool-format",
        choices=("auto", *format_names()),
        default="auto",
        help="how the model writes calls (default: auto, sniffed; see funcroute.formats)",
    )


def model_options(cmd: argparse.ArgumentParser) -> None:
    """Add the model flags every routing command shares (--model, --endpoint, --format...)."""
    cmd.add_argument(
        "--model", help="local model: smollm2 (bundled), a transformers directory/hub id, or a .gguf file"
    )
    cmd.add_argument(
        "--endpoint",
        action="append",
        help="OpenAI-compatible server base URL (llama.cpp, vLLM, TGI, Ollama...); repeat for a fleet",
    )
    cmd.add_argument("--model-name", help="model name on the server (with --endpoint)")
    cmd.add_argument("--api-key", help="server API key (default: $FUNCROUTE_API_KEY)")
    cmd.add_argument("--timeout", type=float, default=60.0, help="server timeout in seconds")
    cmd.add_argument("--format", choices=("json", "yaml"), default="json")
    cmd.add_argument(
        "--template", default=None, help="chat template name (default: the model's own, else airoboros-2)"
    )
    tool_format_option(cmd)
    cmd.add_argument("--max-retries", type=int, default=2)
    cmd.add_argument("--max-new-tokens", type=int, default=256)
    cmd.add_argument(
        "--constrained",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="constrain decoding to valid JSON calls (default: on for JSON where the backend can)",
    )
    cmd.add_argument("--dry-run", action="store_true", help="validate and show the call; do not run it")
    cmd.add_argument("--yes", action="store_true", help="approve calls to tools that require confirmation")
    cmd.add_argument("--audit-log", metavar="FILE", help="append one JSON line per routed command to FILE")
