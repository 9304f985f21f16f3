"""``funcroute serve``: run the OpenAI-compatible server with uvicorn (stopped by Ctrl-C).

Registered by the CLI; imports the server (Starlette, uvicorn) only when the command runs.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from funcroute._install import require
from funcroute.errors import UsageError

__all__ = ["add_serve_command"]

_NEEDS = "funcroute serve needs the serve extra"


def add_serve_command(sub: Any, backend_from_args: Callable[[argparse.Namespace], Any]) -> None:
    """Add the ``serve`` subcommand; ``backend_from_args`` builds the backend from the model flags."""
    help_text = "serve OpenAI-compatible chat completions with tool calling (POST /v1/chat/completions)"
    cmd = sub.add_parser("serve", help=help_text, description=help_text)
    cmd.add_argument(
        "--model", help="local model: a .gguf file or a transformers directory (default: offline)"
    )
    cmd.add_argument(
        "--endpoint", help="upstream OpenAI-compatible completions server (llama.cpp, vLLM, TGI...)"
    )
    cmd.add_argument("--model-name", help="model name on the upstream server (with --endpoint)")
    cmd.add_argument("--api-key", help="upstream server API key (default: $FUNCROUTE_API_KEY)")
    cmd.add_argument("--timeout", type=float, default=60.0, help="upstream server timeout in seconds")
    cmd.add_argument("--template", default="airoboros-2", help="chat template of the model")
    cmd.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    cmd.add_argument("--port", type=int, default=8000)
    cmd.add_argument("--served-model-name", help="model id listed by /v1/models (default: from --model)")
    cmd.add_argument(
        "--require-api-key",
        metavar="KEY",
        help="clients must send 'Authorization: Bearer KEY' (default: $FUNCROUTE_SERVE_API_KEY, else none)",
    )
    cmd.add_argument("--max-body-bytes", type=int, default=4 * 1024 * 1024)
    cmd.add_argument("--max-tools", type=int, default=256, help="tools per request")
    cmd.add_argument("--max-tokens", type=int, default=4096, help="the largest max_tokens a client may ask")
    cmd.add_argument("--max-retries", type=int, default=2, help="repair turns after an invalid call")
    cmd.add_argument("--max-pending", type=int, default=256, help="requests in flight before answering 503")
    cmd.set_defaults(handler=lambda args: _run(args, backend_from_args))


def _run(args: argparse.Namespace, backend_from_args: Callable[[argparse.Namespace], Any]) -> int:
    for flag in ("max_body_bytes", "max_tools", "max_tokens", "max_pending"):
        if getattr(args, flag) < 1:
            raise UsageError(f"--{flag.replace('_', '-')} must be >= 1")
    if args.max_retries < 0 or not 0 < args.port < 65536:
        raise UsageError("--max-retries must be >= 0 and --port between 1 and 65535")
    require("uvicorn", "serve", _NEEDS)
    require("funcroute.serve", "serve", _NEEDS)
    import uvicorn

    from funcroute.prompts.templates import get_template
    from funcroute.serve import Limits, create_app

    template = get_template(args.template)  # a bad name fails before the model loads
    backend = backend_from_args(args)
    name = (
        args.served_model_name
        or (Path(args.model).stem if args.model else args.model_name)
        or "funcroute-offline"
    )
    limits = Limits(
        max_body_bytes=args.max_body_bytes,
        max_tools=args.max_tools,
        max_tokens=args.max_tokens,
        max_retries=args.max_retries,
        max_pending=args.max_pending,
    )
    api_key = args.require_api_key or os.environ.get("FUNCROUTE_SERVE_API_KEY") or None
    app = create_app(backend, template=template, model_name=name, api_key=api_key, limits=limits)
    print(f"funcroute: serving {name!r} on http://{args.host}:{args.port}/v1 (Ctrl-C stops)", file=sys.stderr)
    try:
        uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    finally:
        if backend is not None:
            backend.close()
    return 0
