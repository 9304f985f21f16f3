"""``funcroute eval``, and the files it reads: case files, reply files and BFCL categories.

The scoring, the runner and the report live in :mod:`funcroute.evaluation`; this module turns files
into :class:`~funcroute.evaluation.Case` objects and flags into a run. ``build_parser`` in
:mod:`funcroute.cli` registers the command with :func:`add_eval_command`.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema

from funcroute.evaluation import NO_CALL_TOOL, Case, CaseResult, ExpectedCall, evaluate
from funcroute.exceptions import UsageError
from funcroute.tools import ToolSet

__all__ = [
    "add_eval_command",
    "bfcl_categories",
    "bfcl_dir",
    "ground_truth_reply",
    "read_bfcl",
    "read_cases",
    "read_replies",
]

_IRRELEVANT = ("irrelevance", "live_irrelevance")
_ANY_CALL = ("live_relevance",)


# ------------------------------------------------------------------------------------- files


def _jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror or exc}") from None
    for number, line in enumerate(lines, 1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except ValueError as exc:
                raise UsageError(f"{path}:{number}: not valid JSON: {exc}") from None


def _options(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@cache
def _case_validator() -> jsonschema.Draft202012Validator:
    schema = json.loads((resources.files("funcroute") / "schemas" / "cases.schema.json").read_text("utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _case_problem(row: Any) -> str | None:
    """Why a case line breaks ``schemas/cases.schema.json`` (the most telling reason), or ``None``."""
    errors = list(_case_validator().iter_errors(row))
    if not errors:
        return None
    if not isinstance(row, dict):
        return "expected a JSON object per line"
    text = row.get("input", row.get("command"))
    if not isinstance(text, str) or not text.strip():
        return 'expected an object with a non-empty "input"'
    if isinstance(row, dict):
        allowed: Mapping[str, Any] = _case_validator().schema["properties"]  # type: ignore[index]
        unknown = sorted(set(row) - set(allowed))
        if unknown:
            listed = ", ".join(map(repr, unknown))
            return f"unknown key(s) {listed}; a case has id, input, expected, category, parallel"
        if "expected" not in row:
            return '"expected" is missing: give the expected call, [] or null for "no call", or "any"'
        expected = row["expected"]
        for item in expected if isinstance(expected, list) else [expected]:
            extra = (
                sorted(set(item) - {"function", "params", "alternatives", "optional"})
                if isinstance(item, dict)
                else []
            )
            if isinstance(item, dict) and "function" in item and extra:
                return (
                    f"unknown key(s) {', '.join(map(repr, extra))} in an expected call; it has function, "
                    "params, alternatives, optional"
                )
    error = jsonschema.exceptions.best_match(errors)
    where = "".join(f"[{p!r}]" for p in error.absolute_path) if error is not None else ""
    message = error.message if error is not None else "invalid case"
    return f"{where or 'the case'}: {message[:200]}" + (
        '; "expected" is a call {"function": ..., "params": {...}}, BFCL\'s {"name": {"param": [acceptable '
        'values]}}, a list of calls, [] or null (no call), or "any"'
        if error is not None and error.absolute_path and error.absolute_path[0] == "expected"
        else ""
    )


def _expected(value: Any, where: str, tools: ToolSet | None) -> tuple[tuple[ExpectedCall, ...], bool]:
    """``expected`` of a (schema-valid) case line: a call, a list of calls, ``[]``/``null`` or ``"any"``."""
    if value is None or value == []:
        return (), False
    if value == "any":
        return (), True
    calls: list[ExpectedCall] = []
    for item in value if isinstance(value, list) else [value]:
        if "function" in item:
            calls.append(_explicit_call(item, where))
        else:
            name, params = next(iter(item.items()))  # BFCL's {name: {param: [acceptable...]}}
            calls.append(ExpectedCall(name, {k: _options(v) for k, v in params.items()}))
    for call in calls:
        _check_known(call, where, tools)
    return tuple(calls), False


def _explicit_call(item: Mapping[str, Any], where: str) -> ExpectedCall:
    """``{"function", "params"?, "alternatives"?, "optional"?}``: exact values, explicit alternatives."""
    params: dict[str, Any] = dict(item.get("params") or {})
    alternatives: dict[str, list[Any]] = dict(item.get("alternatives") or {})
    both = sorted(set(params) & set(alternatives))
    if both:
        raise UsageError(f'{where}: {", ".join(both)} in both "params" and "alternatives": give it once')
    optional = list(item.get("optional") or [])
    stray = sorted(set(optional) - set(params) - set(alternatives))
    if stray:
        raise UsageError(f'{where}: "optional" names {", ".join(stray)}, which has no expected value')
    expected = dict(ExpectedCall.exact(item["function"], params).params)
    expected |= {
        k: [ExpectedCall.exact("", {"v": v}).params["v"][0] for v in vs] for k, vs in alternatives.items()
    }
    for name in optional:
        expected[name] = [*expected[name], ""]  # BFCL's mark for "may be left out"
    return ExpectedCall(item["function"], expected)


def _check_known(call: ExpectedCall, where: str, tools: ToolSet | None) -> None:
    """An expected call must name a function, and parameters, that the tools have."""
    if tools is None or call.function == NO_CALL_TOOL:
        return
    if call.function not in tools:
        raise UsageError(
            f"{where}: expects a call of {call.function!r}, which the tools do not have "
            f"(they have: {', '.join(tools.names[:20])})"
        )
    unknown = sorted(set(call.params) - tools[call.function].parameters)
    if unknown:
        raise UsageError(f"{where}: {call.function!r} has no parameter(s) {', '.join(map(repr, unknown))}")


def read_cases(path: Path, tools: ToolSet | None = None, category: str = "cases") -> list[Case]:
    """Cases from JSONL, one per line, as ``schemas/cases.schema.json`` describes.

    ``{"id"?, "input", "expected", "category"?, "parallel"?}``: ``expected`` is required (``[]`` or
    ``null`` for "no call", ``"any"`` for any call); unknown keys, and expected functions or
    parameters the tools lack, are errors.

    Raises:
        UsageError: naming the file and line of the first malformed case.
    """
    cases = []
    seen: set[str] = set()
    for number, row in _jsonl(path):
        where = f"{path}:{number}"
        problem = _case_problem(row)
        if problem is not None:
            raise UsageError(f"{where}: {problem}")
        text = row.get("input", row.get("command"))
        case_id = str(row.get("id", number))
        if case_id in seen:
            raise UsageError(f"{where}: case id {case_id!r} is used twice (reply files are keyed by it)")
        seen.add(case_id)
        expected, any_call = _expected(row["expected"], where, tools)
        cases.append(
            Case(
                case_id,
                text,
                expected,
                any_call,
                tools,
                str(row.get("category", category)),
                row.get("parallel"),
            )
        )
    return cases


def read_replies(path: Path) -> dict[str, str]:
    """Replies by case id from JSONL: ``{"id", "reply"}``, or an eval results file (its last reply)."""
    out: dict[str, str] = {}
    for number, row in _jsonl(path):
        reply = row.get("reply") if isinstance(row, dict) else None
        if (
            reply is None
            and isinstance(row, dict)
            and isinstance(row.get("replies"), list)
            and row["replies"]
        ):
            reply = row["replies"][-1]
        if not isinstance(reply, str) or "id" not in row:
            raise UsageError(f'{path}:{number}: expected {{"id": ..., "reply": "..."}}')
        out[str(row["id"])] = reply
    return out


# -------------------------------------------------------------------------------------- BFCL


def bfcl_dir(directory: str | Path | None = None) -> Path:
    """The BFCL data folder: ``directory``, ``$FUNCROUTE_BFCL_DIR``, or ``shared/corpora/bfcl`` nearby."""
    given = directory or os.environ.get("FUNCROUTE_BFCL_DIR")
    # Beside or above the working directory, or beside this checkout (src/funcroute/ → ../../..).
    bases = [Path.cwd(), Path.cwd().parent, Path(__file__).resolve().parents[3]]
    for found in [Path(given)] if given else [base / "shared" / "corpora" / "bfcl" for base in bases]:
        if any(found.glob("BFCL_v4_*.json")):
            return found
    raise UsageError(f"no BFCL_v4_*.json files in {given or 'shared/corpora/bfcl'}: pass --bfcl-dir")


def bfcl_categories(directory: str | Path | None = None) -> list[str]:
    """Category names (``simple_python``, ``parallel``...) of the BFCL files present."""
    return sorted(p.name[len("BFCL_v4_") : -len(".json")] for p in bfcl_dir(directory).glob("BFCL_v4_*.json"))


def read_bfcl(category: str, directory: str | Path | None = None) -> list[Case]:
    """The cases of one BFCL category; each entry's functions become its ToolSet.

    The input is the entry's last user message: system messages and earlier turns have no place in
    the selection prompt. Irrelevance categories expect no call; ``live_relevance`` accepts any call.
    Entries repeating a function list share one ToolSet, so a model sees them in one batch.
    """
    root = bfcl_dir(directory)
    known = bfcl_categories(root)
    if category not in known:
        raise UsageError(f"unknown BFCL category {category!r}; known: {', '.join(known)}")
    answers = root / "possible_answer" / f"BFCL_v4_{category}.json"
    truth = {row["id"]: row["ground_truth"] for _, row in _jsonl(answers)} if answers.exists() else {}
    if not truth and category not in _IRRELEVANT + _ANY_CALL:
        raise UsageError(f"BFCL category {category!r} has no possible_answer file to score against")
    toolsets: dict[str, ToolSet] = {}
    cases = []
    for _, row in _jsonl(root / f"BFCL_v4_{category}.json"):
        key = json.dumps(row["function"], sort_keys=True)
        if key not in toolsets:
            toolsets[key] = ToolSet.from_bfcl(row["function"])
        messages = [m for turn in row["question"] for m in turn]
        users = [m["content"] for m in messages if m.get("role") == "user"] or [messages[-1]["content"]]
        expected = tuple(ExpectedCall(n, p) for call in truth.get(row["id"], []) for n, p in call.items())
        parallel = "parallel" in category
        cases.append(
            Case(row["id"], users[-1], expected, category in _ANY_CALL, toolsets[key], category, parallel)
        )
    return cases


def _render(value: Any) -> Any:
    if isinstance(value, dict):
        return _first(value)
    return [_render(v) for v in value] if isinstance(value, list) else value


def _first(params: Mapping[str, Any]) -> dict[str, Any]:
    """The first acceptable value of each parameter, leaving out those that may be omitted."""
    return {k: _render(_options(v)[0]) for k, v in params.items() if _options(v) and "" not in _options(v)}


def ground_truth_reply(case: Case, *, no_call_tool: bool = False) -> str:
    """The case's expected calls as an Airoboros JSON reply (first acceptable values; a list if parallel).

    Raises:
        ValueError: the case accepts any call, so there is nothing to render.
    """
    if case.any_call:
        raise ValueError(f"case {case.id!r} accepts any call: it has no ground truth to render")
    if not case.expected:
        return json.dumps({"function": NO_CALL_TOOL, "params": {}}) if no_call_tool else "No function fits."
    calls = [{"function": e.function, "params": _first(e.params)} for e in case.expected]
    return json.dumps(calls if case.is_parallel else calls[0], ensure_ascii=False)


# --------------------------------------------------------------------------------------- CLI


def add_eval_command(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``funcroute eval`` on the CLI's subparsers."""
    from funcroute import cli

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
    cli._model_options(cmd)  # the same --model/--endpoint/... as `funcroute route`; --dry-run is implied
    cmd.set_defaults(handler=_cmd_eval)
    return cmd


def _load(args: argparse.Namespace) -> list[Case]:
    from funcroute._loading import load_toolset

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
    from funcroute import cli

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
    backend = None if replies is not None else cli._backend_from_args(args)
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
        return cli.EXIT_FAILED
    return cli.EXIT_OK
