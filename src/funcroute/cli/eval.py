"""``funcroute eval``: score a router on case files or BFCL categories, from the command line.

The cases come from :mod:`funcroute.evaluation.cases`; the scoring, the runner and the report from
:mod:`funcroute.evaluation.scoring`. ``build_parser`` in :mod:`funcroute.cli.main` registers the
command with :func:`add_eval_command`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from funcroute.cli import common
from funcroute.errors import UsageError
from funcroute.evaluation.cases import (
    bfcl_categories,
    ground_truth_reply,
    read_bfcl,
    read_cases,
    read_replies,
)
from funcroute.evaluation.scoring import Case, CaseResult, evaluate

__all__ = ["add_eval_command"]


# --------------------------------------------------------------------------------------- CLI


def add_eval_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``funcroute eval`` on the CLI's subparsers."""
    text = "score a router on cases (or BFCL categories) with BFCL's AST rules"
    cmd: argparse.ArgumentParser = subparsers.add_parser("eval", help=text, description=text)
    cases = cmd.add_argument_group("cases (give --cases or --bfcl)")
    cases.add_argument("--cases", metavar="FILE", help='JSONL: {"id", "input", "expected"} per line')
    cases.add_argument("--tools", metavar="SPEC", help="tool file, Python file or module:attr (with --cases)")
    cases.add_argument(
        "--bfcl",
        metavar="CATEGORY",
        action="append",
        help="BFCL category (simple_python, parallel, irrelevance...): comma-separated, repeatable, or 'all'",
    )
    cases.add_argument(
        "--bfcl-dir",
        metavar="DIR",
        help="BFCL data folder (default: $FUNCROUTE_BFCL_DIR or shared/corpora/bfcl)",
    )
    cases.add_argument(
        "--limit", type=int, metavar="N", help="only the first N cases of each file or category"
    )
    source = cmd.add_argument_group("replies (default: ask the model given by the model options)")
    source.add_argument(
        "--replies", metavar="FILE", help='score precomputed replies: JSONL {"id", "reply"}, no model'
    )
    source.add_argument(
        "--ground-truth",
        action="store_true",
        help="score each case's own expected calls rendered as replies (checks cases and tool specs)",
    )
    cmd.add_argument(
        "--no-call-tool", action="store_true", help="offer a 'none' tool so the model can decline"
    )
    cmd.add_argument("--out", metavar="FILE", help="write per-case results here as JSONL (overwritten)")
    cmd.add_argument(
        "--fail-under", type=float, metavar="PCT", help="exit 1 if accuracy is below PCT percent"
    )
    cmd.add_argument(
        "--progress", action=argparse.BooleanOptionalAction, default=None, help="progress bar on stderr"
    )
    common.model_options(cmd)  # the same --model/--endpoint/... as `funcroute route`; --dry-run is implied
    cmd.set_defaults(handler=_cmd_eval)
    return cmd


def _load(args: argparse.Namespace) -> list[Case]:
    from funcroute.cli.loading import load_toolset

    if bool(args.cases) == bool(args.bfcl):
        raise UsageError("give either --cases (with --tools) or --bfcl")
    if args.limit is not None and args.limit < 1:
        raise UsageError("--limit must be at least 1")
    if args.cases:
        if not args.tools:
            raise UsageError("--cases needs --tools (the tools the cases are routed to)")
        # eval never runs a handler (--dry-run is implied): unimportable handlers are no obstacle
        return read_cases(Path(args.cases), load_toolset(args.tools, dispatch=False))[: args.limit]
    if args.tools:
        raise UsageError("--tools is not used with --bfcl: every BFCL entry brings its own functions")
    names = [n.strip() for given in args.bfcl for n in given.split(",") if n.strip()]
    if "all" in names:
        names = bfcl_categories(args.bfcl_dir)
    return [c for name in dict.fromkeys(names) for c in read_bfcl(name, args.bfcl_dir)[: args.limit]]


def _cmd_eval(args: argparse.Namespace) -> int:
    cases = _load(args)
    replies: dict[str, str] | None = None
    if args.replies and args.ground_truth:
        raise UsageError("give --replies or --ground-truth, not both")
    if (args.replies or args.ground_truth) and (args.model or args.endpoint):
        raise UsageError("--replies/--ground-truth score replies without a model: drop --model/--endpoint")
    if args.replies:
        replies = read_replies(Path(args.replies))
    elif args.ground_truth:
        skipped = sum(c.any_call for c in cases)
        if skipped:
            print(
                f"funcroute: {skipped} cases accept any call and have no ground truth: skipped",
                file=sys.stderr,
            )
        cases = [c for c in cases if not c.any_call]
        replies = {c.id: ground_truth_reply(c, no_call_tool=args.no_call_tool) for c in cases}
    if args.max_new_tokens < 1:
        raise UsageError("--max-new-tokens must be >= 1")
    options = {"format": args.format, "template": args.template, "max_retries": args.max_retries}
    options |= {"max_new_tokens": args.max_new_tokens, "constrained": args.constrained}
    backend = None if replies is not None else common.backend_from_args(args)
    options["template"] = args.template or "airoboros-2"  # a preset (--model smollm2) sets its own
    try:
        out = Path(args.out).open("w", encoding="utf-8") if args.out else None  # closed below
    except OSError as exc:
        raise UsageError(f"cannot write {args.out}: {exc.strerror or exc}") from None

    def write(result: CaseResult) -> None:
        if out is not None:  # streamed, so an interrupted run keeps what it scored
            out.write(json.dumps(result.to_dict(), ensure_ascii=False, default=str) + "\n")
            out.flush()

    try:
        report = evaluate(
            cases, backend, replies=replies, no_call_tool=args.no_call_tool, progress=args.progress,
            on_result=write, **options,
        )  # fmt: skip
    finally:
        if out is not None:
            out.close()
    print(report.summary())
    correct = sum(r.ok for r in report.results)
    print(f"\naccuracy: {100 * report.accuracy:.1f}% ({correct}/{len(report.results)})")
    if args.fail_under is not None and 100 * report.accuracy < args.fail_under:
        print(f"funcroute: accuracy is below --fail-under {args.fail_under:g}%", file=sys.stderr)
        return common.EXIT_FAILED
    return common.EXIT_OK
