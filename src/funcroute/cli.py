"""The ``funcroute`` command.

Exit codes: 0 success; 1 the command failed (refused, no valid call, the handler raised or timed
out, the call was not approved); 2 bad usage (arguments, tool specs, files); 3 the model backend
failed (cannot load, server unreachable); 130 interrupted (Ctrl-C); 141 stdout closed early
(``| head``). Errors are one paragraph on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from funcroute import __version__
from funcroute._loading import load_toolset
from funcroute.exceptions import (
    BackendError,
    CallRefusedError,
    FuncRouteError,
    ModelOutputError,
    NoSuitableFunctionError,
    UsageError,
)
from funcroute.prompts.templates import get_template, template_names

__all__ = ["build_parser", "main"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BACKEND = 0, 1, 2, 3
EXIT_INTERRUPTED, EXIT_BROKEN_PIPE = 130, 141
_MAX_INPUT_BYTES = 16 * 1024 * 1024

Handler = Callable[[argparse.Namespace], int]


def _read_text(source: str | None) -> str:
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


def _print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def _cmd_prompt(args: argparse.Namespace) -> int:
    tools = load_toolset(args.tools, dispatch=False)
    body = tools.prompt(args.input, args.format, show_types=args.show_types)
    print(get_template(args.template).render(body) if args.template else body)
    return EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    tools = load_toolset(args.tools, dispatch=False)
    reply = _read_text(args.file)
    # Every call the reply holds, in any format: one prints as an object, several (or --all) as a list;
    # a reply with a bad call fails naming its index rather than printing the others.
    calls = tools.parse_many(reply, format=args.tool_format)
    if args.all or len(calls) > 1:
        _print_json([call.to_dict() for call in calls])
        return EXIT_OK
    call = calls[0]
    _print_json(call.to_dict())
    return EXIT_OK


def _cmd_tools(args: argparse.Namespace) -> int:
    tools = load_toolset(args.tools, dispatch=False)
    if args.json:
        _print_json(tools.openai_tools())
        return EXIT_OK
    from funcroute._describe import parameter_lines

    width = max((len(t.name) for t in tools), default=0)
    for tool in tools:
        flags = [
            *(["unbound"] if tool.handler is None else []),
            *(["confirm"] if tool.confirm else []),
            *([f"timeout {tool.timeout:g} s"] if tool.timeout is not None else []),
        ]
        shown = "".join(f"  [{flag}]" for flag in flags)
        print(f"{tool.name.ljust(width)}  {tool.description}{shown}")
        if args.verbose:
            for line in parameter_lines(tool.schema):
                print(f"{'':{width}}    {line}")
    return EXIT_OK


def _backend_from_args(args: argparse.Namespace) -> Any:
    """The backend the flags name, or ``None`` for the router's offline default."""
    if args.model and args.endpoint:
        raise UsageError("give either --model or --endpoint, not both")
    if args.endpoint:
        if not args.model_name:
            raise UsageError("--endpoint needs --model-name (the model's name on that server)")
        from funcroute.backends.openai import OpenAIBackend

        api_key = args.api_key or os.environ.get("FUNCROUTE_API_KEY")
        if len(args.endpoint) > 1 or getattr(args, "fleet", False):
            from funcroute._cli_fleet import fleet_backend

            return fleet_backend(args, api_key)
        return OpenAIBackend(args.endpoint[0], args.model_name, api_key=api_key, timeout=args.timeout)
    if args.model:
        if str(args.model).endswith(".gguf"):
            from funcroute.backends.llamacpp import LlamaCppBackend

            return LlamaCppBackend(args.model)
        from funcroute.backends.transformers import TransformersBackend

        return TransformersBackend(args.model)
    print(
        "funcroute: no --model/--endpoint: routing offline with the semantic router (no LLM)", file=sys.stderr
    )
    return None


def check_model_options(args: argparse.Namespace) -> None:
    """Refuse contradictory model flags in CLI words (the Router would say it in Python's)."""
    if args.max_retries < 0 or args.max_new_tokens < 1:
        raise UsageError("--max-retries must be >= 0 and --max-new-tokens >= 1")
    if args.constrained and args.format != "json":
        raise UsageError("--constrained produces JSON calls: use it with --format json (the default)")


def _router_from_args(args: argparse.Namespace) -> Any:
    from funcroute.router import Router

    check_model_options(args)
    return Router(
        load_toolset(args.tools, dispatch=not args.dry_run),
        _backend_from_args(args),
        format=args.format,
        template=args.template,
        max_retries=args.max_retries,
        max_new_tokens=args.max_new_tokens,
        constrained=args.constrained,
        approve=_approver(args),
        audit_log=args.audit_log,
        tool_format=args.tool_format,
    )


def _approver(args: argparse.Namespace) -> Any:
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


def _cmd_route(args: argparse.Namespace) -> int:
    try:
        router = _router_from_args(args)
    except BackendError as exc:  # the model could not be loaded or reached
        return _route_failed(args, exc)
    with router:
        return _route_one(router, args)


def _route_failed(args: argparse.Namespace, exc: FuncRouteError) -> int:
    """Report a failed route: one line on stderr and, with --json, the same record as a success."""
    from funcroute._batch import result_record

    if isinstance(exc, NoSuitableFunctionError):
        message = f"refused, no suitable function: {exc.reason}"
    elif isinstance(exc, ModelOutputError):
        message = f"no valid call after {len(exc.attempts) or 1} attempt(s): {exc}"
    elif isinstance(exc, CallRefusedError) and not args.yes:
        message = (
            f"tool {exc.call.function!r} requires confirmation: pass --yes, or run in a terminal to be "
            "asked; the handler was not run"
        )
    else:
        message = str(exc)
    print(f"funcroute: {message}", file=sys.stderr)
    if args.json:
        record = result_record(None, args.command_text, None, error=exc)
        if isinstance(exc, CallRefusedError):
            record["error"]["message"] = message  # CLI words for CLI users, not approve=<callback>
        _print_json(record)
    return EXIT_BACKEND if isinstance(exc, BackendError) else EXIT_FAILED


def _route_one(router: Any, args: argparse.Namespace) -> int:
    from funcroute._batch import result_record

    try:
        result = router.route(args.command_text, dry_run=args.dry_run)
    except UsageError:
        raise
    except FuncRouteError as exc:  # refused, no valid call, handler error, timeout, backend error
        return _route_failed(args, exc)
    if args.json:
        _print_json(result_record(None, args.command_text, result))
        return EXIT_OK
    assert result.call is not None
    print(f"call:   {result.call.function}({json.dumps(result.call.arguments, ensure_ascii=False)})")
    if args.dry_run:
        print("result: (dry run: not executed)")
    else:
        print(f"result: {result.value}")
    return EXIT_OK


def _cmd_batch(args: argparse.Namespace) -> int:
    from funcroute._batch import run_batch

    if args.endpoint:  # servers: stream over the fleet (even of one), exactly once
        from funcroute._cli_fleet import run_fleet_batch

        return run_fleet_batch(args, _router_from_args)
    with _router_from_args(args) as router:
        summary = run_batch(
            router,
            Path(args.input),
            Path(args.output),
            resume=args.resume,
            dry_run=args.dry_run,
            chunk_size=args.batch_size,
        )
    print(
        f"{summary.total} commands: {summary.ok} ok, {summary.failed} failed, {summary.skipped} already done",
        file=sys.stderr,
    )
    return EXIT_OK if summary.failed == 0 else EXIT_FAILED


def _cmd_plan(args: argparse.Namespace) -> int:
    with _router_from_args(args) as router:
        try:
            plan = router.plan(args.question, dialect=args.dialect, max_steps=args.max_steps)
        except ModelOutputError as exc:
            tries = len(exc.attempts) or 1
            print(f"funcroute: no usable plan after {tries} attempt(s): {exc}", file=sys.stderr)
            return EXIT_FAILED
        print(plan.to_text())
        if args.execute and not args.dry_run:
            result = plan.execute(router.tools)
            print("\n--- trace ---")
            for record in result.trace:
                print(f"{record.step.evidence} = {record.step.tool}[{record.input}] -> {record.text}")
            print(f"\nanswer: {result.answer_text}")
    return EXIT_OK


def _tool_format_option(cmd: argparse.ArgumentParser) -> None:
    from funcroute.formats import format_names

    cmd.add_argument(
        "--tool-format",
        choices=("auto", *format_names()),
        default="auto",
        help="how the model writes calls (default: auto, sniffed; see funcroute.formats)",
    )


def _model_options(cmd: argparse.ArgumentParser) -> None:
    cmd.add_argument("--model", help="local model: a transformers directory/hub id, or a .gguf file")
    cmd.add_argument(
        "--endpoint",
        action="append",
        help="OpenAI-compatible server base URL (llama.cpp, vLLM, TGI, Ollama...); repeat for a fleet",
    )
    cmd.add_argument("--model-name", help="model name on the server (with --endpoint)")
    cmd.add_argument("--api-key", help="server API key (default: $FUNCROUTE_API_KEY)")
    cmd.add_argument("--timeout", type=float, default=60.0, help="server timeout in seconds")
    cmd.add_argument("--format", choices=("json", "yaml"), default="json")
    cmd.add_argument("--template", default="airoboros-2", help="chat template name")
    _tool_format_option(cmd)
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


def _cmd_demo(args: argparse.Namespace) -> int:
    from funcroute import _demo

    return _demo.run(out=sys.stdout)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="funcroute", description="Route natural-language commands to validated Python function calls."
    )
    parser.add_argument("--version", action="version", version=f"funcroute {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    def command(name: str, handler: Handler, help_text: str, tools: bool = True) -> argparse.ArgumentParser:
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        if tools:
            cmd.add_argument(
                "--tools",
                required=True,
                metavar="SPEC",
                help="tool file, Python file, module:attr or mcp:SERVER",
            )
        cmd.set_defaults(handler=handler)
        return cmd

    prompt = command("prompt", _cmd_prompt, "print the function-selection prompt for an input")
    prompt.add_argument("input", help="the user's command")
    prompt.add_argument("--format", choices=("json", "yaml"), default="json")
    prompt.add_argument(
        "--template",
        default=None,
        help=f"wrap in a chat template ({', '.join(template_names())}, or text with {{prompt}})",
    )
    prompt.add_argument("--show-types", action="store_true", help="append type notes to parameter lines")

    validate = command(
        "validate",
        _cmd_validate,
        "parse and validate a model reply; print the call (or list of calls) as JSON",
    )
    validate.add_argument("file", nargs="?", default="-", help="file holding the reply (default: stdin)")
    _tool_format_option(validate)
    validate.add_argument("--all", action="store_true", help="print every call of the reply (a JSON list)")

    tools = command("tools", _cmd_tools, "list the tools in a spec")
    tools.add_argument("--json", action="store_true", help="print OpenAI-style tool specs")
    tools.add_argument(
        "-v", "--verbose", action="store_true", help="show parameters: types, required, defaults"
    )

    route = command("route", _cmd_route, "route one command to a validated call and run it")
    route.add_argument("command_text", metavar="command", help="the natural-language command")
    _model_options(route)
    route.add_argument("--json", action="store_true", help="print the result as JSON")

    batch = command(
        "batch", _cmd_batch, "route a JSONL file of commands, writing each result as it completes"
    )
    batch.add_argument(
        "--in", dest="input", required=True, help='commands: JSONL ({"input": ...}) or text lines'
    )
    batch.add_argument("--out", dest="output", required=True, help="results JSONL, one record per input line")
    batch.add_argument("--resume", action="store_true", help="continue an interrupted run's --out file")
    batch.add_argument("--batch-size", type=int, default=8, help="commands sent to the model at once")
    _model_options(batch)
    from funcroute._cli_fleet import add_fleet_options

    add_fleet_options(batch)

    plan = command("plan", _cmd_plan, "ask the model for a multi-step plan over the tools (and run it)")
    plan.add_argument("question", help="the task or question")
    _model_options(plan)
    plan.add_argument("--execute", action="store_true", help="run the plan and print its trace")
    plan.add_argument("--dialect", choices=("evidence", "hash"), default="evidence")
    plan.add_argument("--max-steps", type=int, default=20)

    from funcroute._cli_eval import add_eval_command

    add_eval_command(sub)

    from funcroute._cli_mcp import add_mcp_command

    add_mcp_command(sub)

    from funcroute._cli_serve import add_serve_command

    add_serve_command(sub, _backend_from_args)

    command("demo", _cmd_demo, "run the built-in demo end to end", tools=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also the console script's entry point)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C anywhere: no traceback
        print("funcroute: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # `funcroute tools --json | head`: the reader left; that is fine
        _silence_stdout()
        return EXIT_BROKEN_PIPE


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured): nothing to flush
        pass


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse already printed its message
        return int(exc.code) if isinstance(exc.code, int) else EXIT_USAGE
    handler: Handler = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
        return code
    except ModelOutputError as exc:
        print(f"funcroute: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except UsageError as exc:
        print(f"funcroute: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except BackendError as exc:
        print(f"funcroute: {exc}", file=sys.stderr)
        return EXIT_BACKEND
    except FuncRouteError as exc:
        print(f"funcroute: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
