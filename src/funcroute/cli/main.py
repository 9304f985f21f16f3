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
from typing import Any, TypeAlias

from funcroute import __version__
from funcroute.cli import common
from funcroute.cli.loading import load_toolset
from funcroute.errors import (
    BackendError,
    CallRefusedError,
    FuncRouteError,
    ModelOutputError,
    NoSuitableFunctionError,
    UsageError,
)
from funcroute.prompts.templates import get_template, template_names

__all__ = ["build_parser", "main"]

Handler = Callable[[argparse.Namespace], int]
_Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def _cmd_prompt(args: argparse.Namespace) -> int:
    tools = load_toolset(args.tools, dispatch=False)
    body = tools.prompt(args.input, args.format, show_types=args.show_types)
    print(get_template(args.template).render(body) if args.template else body)
    return common.EXIT_OK


def _cmd_validate(args: argparse.Namespace) -> int:
    tools = load_toolset(args.tools, dispatch=False)
    reply = common.read_text(args.file)
    # Every call the reply holds, in any format: one prints as an object, several (or --all) as a list;
    # a reply with a bad call fails naming its index rather than printing the others.
    calls = tools.parse_many(reply, format=args.tool_format)
    if args.all or len(calls) > 1:
        common.print_json([call.to_dict() for call in calls])
        return common.EXIT_OK
    call = calls[0]
    common.print_json(call.to_dict())
    return common.EXIT_OK


def _cmd_tools(args: argparse.Namespace) -> int:
    tools = load_toolset(args.tools, dispatch=False)
    if args.json:
        common.print_json(tools.openai_tools())
        return common.EXIT_OK
    from funcroute.tools.describe import parameter_lines

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
    return common.EXIT_OK


def _cmd_route(args: argparse.Namespace) -> int:
    from funcroute.cli import cascade as _cli_cascade

    try:
        _cli_cascade.check_selector_options(args)
        backend = common.backend_from_args(args)
        if backend is None:  # the cascade (the bundled model when installed), or --semantic-only
            common.check_model_options(args)
            tools = load_toolset(args.tools, dispatch=not args.dry_run)
            with _cli_cascade.default_router(args, tools, common.approver(args)) as router:
                return _route_one(router, args)
        router = common.router_from_args(args, backend)
    except BackendError as exc:  # the model could not be loaded or reached
        return _route_failed(args, exc)
    with router:
        return _route_one(router, args)


def _route_failed(args: argparse.Namespace, exc: FuncRouteError, router: Any = None) -> int:
    """Report a failed route: one line on stderr and, with --json, the same record as a success."""
    from funcroute.batch.jsonl import result_record
    from funcroute.cli.cascade import shows_path, with_path

    paths = router is not None and shows_path(router)
    if paths and not args.json and isinstance(exc, NoSuitableFunctionError):
        print(f"path:   refused ({exc.reason})")
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
        common.print_json(with_path(record, exc) if paths else record)
    return common.EXIT_BACKEND if isinstance(exc, BackendError) else common.EXIT_FAILED


def _route_one(router: Any, args: argparse.Namespace) -> int:
    from funcroute.batch.jsonl import result_record
    from funcroute.cli.cascade import shows_path, with_path

    try:
        result = router.route(args.command_text, dry_run=args.dry_run)
    except UsageError:
        raise
    except FuncRouteError as exc:  # refused, no valid call, handler error, timeout, backend error
        return _route_failed(args, exc, router)
    if args.json:
        record = result_record(None, args.command_text, result)
        common.print_json(with_path(record, result) if shows_path(router) else record)
        return common.EXIT_OK
    assert result.call is not None
    if result.path:  # which way the call was chosen, and why (the offline router and the cascade)
        print(f"path:   {result.path} ({result.reason})")
    print(f"call:   {result.call.function}({json.dumps(result.call.arguments, ensure_ascii=False)})")
    if args.dry_run:
        print("result: (dry run: not executed)")
    else:
        print(f"result: {result.value}")
    return common.EXIT_OK


def _cmd_batch(args: argparse.Namespace) -> int:
    from funcroute.batch.jsonl import run_batch

    if args.endpoint:  # servers: stream over the fleet (even of one), exactly once
        from funcroute.cli.fleet import run_fleet_batch

        return run_fleet_batch(args, common.router_from_args)
    with common.router_from_args(args) as router:
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
    return common.EXIT_OK if summary.failed == 0 else common.EXIT_FAILED


def _cmd_plan(args: argparse.Namespace) -> int:
    with common.router_from_args(args) as router:
        try:
            plan = router.plan(args.question, dialect=args.dialect, max_steps=args.max_steps)
        except ModelOutputError as exc:
            tries = len(exc.attempts) or 1
            print(f"funcroute: no usable plan after {tries} attempt(s): {exc}", file=sys.stderr)
            return common.EXIT_FAILED
        print(plan.to_text())
        if args.execute and not args.dry_run:
            result = plan.execute(router.tools)
            print("\n--- trace ---")
            for record in result.trace:
                print(f"{record.step.evidence} = {record.step.tool}[{record.input}] -> {record.text}")
            print(f"\nanswer: {result.answer_text}")
    return common.EXIT_OK


def _cmd_demo(args: argparse.Namespace) -> int:
    from funcroute.cli import demo as _demo

    return _demo.run(out=sys.stdout, cascade=not args.semantic_only)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(
        prog="funcroute", description="Route natural-language commands to validated Python function calls."
    )
    parser.add_argument("--version", action="version", version=f"funcroute {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # The order here is the order of `funcroute --help`.
    _add_tool_commands(sub)
    _add_model_commands(sub)
    from funcroute.cli.eval import add_eval_command

    add_eval_command(sub)

    from funcroute.cli.mcp import add_mcp_command

    add_mcp_command(sub)

    from funcroute.cli.serve import add_serve_command

    add_serve_command(sub, common.backend_from_args)

    demo = _command(sub, "demo", _cmd_demo, "run the built-in demo end to end", tools=False)
    from funcroute.cli.cascade import add_selector_options

    add_selector_options(demo)
    return parser


def _command(
    sub: _Subparsers, name: str, handler: Handler, help_text: str, tools: bool = True
) -> argparse.ArgumentParser:
    """Add subcommand ``name`` run by ``handler``; with ``tools``, it takes the required ``--tools``."""
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


def _add_tool_commands(sub: _Subparsers) -> None:
    """The commands that need no model: prompt, validate, tools."""
    prompt = _command(sub, "prompt", _cmd_prompt, "print the function-selection prompt for an input")
    prompt.add_argument("input", help="the user's command")
    prompt.add_argument("--format", choices=("json", "yaml"), default="json")
    prompt.add_argument(
        "--template",
        default=None,
        help=f"wrap in a chat template ({', '.join(template_names())}, or text with {{prompt}})",
    )
    prompt.add_argument("--show-types", action="store_true", help="append type notes to parameter lines")

    validate = _command(
        sub,
        "validate",
        _cmd_validate,
        "parse and validate a model reply; print the call (or list of calls) as JSON",
    )
    validate.add_argument("file", nargs="?", default="-", help="file holding the reply (default: stdin)")
    common.tool_format_option(validate)
    validate.add_argument("--all", action="store_true", help="print every call of the reply (a JSON list)")

    tools = _command(sub, "tools", _cmd_tools, "list the tools in a spec")
    tools.add_argument("--json", action="store_true", help="print OpenAI-style tool specs")
    tools.add_argument(
        "-v", "--verbose", action="store_true", help="show parameters: types, required, defaults"
    )


def _add_model_commands(sub: _Subparsers) -> None:
    """The commands that run a model: route, batch, plan."""
    route = _command(sub, "route", _cmd_route, "route one command to a validated call and run it")
    route.add_argument("command_text", metavar="command", help="the natural-language command")
    common.model_options(route)
    route.add_argument("--json", action="store_true", help="print the result as JSON")
    from funcroute.cli.cascade import add_selector_options

    add_selector_options(route)

    batch = _command(
        sub, "batch", _cmd_batch, "route a JSONL file of commands, writing each result as it completes"
    )
    batch.add_argument(
        "--in", dest="input", required=True, help='commands: JSONL ({"input": ...}) or text lines'
    )
    batch.add_argument("--out", dest="output", required=True, help="results JSONL, one record per input line")
    batch.add_argument("--resume", action="store_true", help="continue an interrupted run's --out file")
    batch.add_argument("--batch-size", type=int, default=8, help="commands sent to the model at once")
    common.model_options(batch)
    from funcroute.cli.fleet import add_fleet_options

    add_fleet_options(batch)

    plan = _command(sub, "plan", _cmd_plan, "ask the model for a multi-step plan over the tools (and run it)")
    plan.add_argument("question", help="the task or question")
    common.model_options(plan)
    plan.add_argument("--execute", action="store_true", help="run the plan and print its trace")
    plan.add_argument("--dialect", choices=("evidence", "hash"), default="evidence")
    plan.add_argument("--max-steps", type=int, default=20)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code (also the console script's entry point)."""
    try:
        return _main(argv)
    except KeyboardInterrupt:  # Ctrl-C anywhere: no traceback
        print("funcroute: interrupted", file=sys.stderr)
        return common.EXIT_INTERRUPTED
    except BrokenPipeError:  # `funcroute tools --json | head`: the reader left; that is fine
        _silence_stdout()
        return common.EXIT_BROKEN_PIPE


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
        return int(exc.code) if isinstance(exc.code, int) else common.EXIT_USAGE
    handler: Handler = args.handler
    try:
        code = handler(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
        return code
    except ModelOutputError as exc:
        print(f"funcroute: {exc}", file=sys.stderr)
        return common.EXIT_FAILED
    except UsageError as exc:
        print(f"funcroute: error: {exc}", file=sys.stderr)
        return common.EXIT_USAGE
    except BackendError as exc:
        print(f"funcroute: {exc}", file=sys.stderr)
        return common.EXIT_BACKEND
    except FuncRouteError as exc:
        print(f"funcroute: {exc}", file=sys.stderr)
        return common.EXIT_FAILED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
