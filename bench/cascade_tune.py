"""Choose the cascade's knobs on a tuning split, so the reported figures are not fitted to their cases.

Runs the real :class:`funcroute.routing.Cascade` (SmolLM2 through llama.cpp, greedy, as
``bench/cascade.py``) for every point of a grid of knobs — ``irrelevance_floor``, the semantic
threshold, ``top_k``, grounded on/off, ``max_retries`` — on the tuning categories only (default
``live_simple`` + ``live_irrelevance``, the same even-stride subsample as ``bench/cascade.py``).
Greedy decoding makes a model reply a function of its request, so each distinct request is generated
once and replayed from memory for the other grid points (a ``Memo`` backend); the semantic decision
is likewise computed once per (command, threshold). Every grid point is therefore exact, and the
whole grid costs about as many model calls as a few plain runs. Timings are not measured here
(replayed calls cost nothing): ``model s`` is the summed generation time of the model calls a grid
point would make, per command, from the first real run.

The objective is balanced accuracy, the mean of the tuning categories' accuracies (a refusal is
right on ``live_irrelevance``, wrong on ``live_simple``); ties go to fewer model seconds.

    .venv/bin/python bench/cascade_tune.py [--per-category 30] [--threads 1] [--out grid.jsonl]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

from cascade import make_cascade, routed, sample

from funcroute.backends.base import Backend, Completion, Request
from funcroute.backends.presets import load_preset
from funcroute.evaluation import Case, load_bfcl, score
from funcroute.offline.selector import DEFAULT_THRESHOLD, Decision, SemanticSelector
from funcroute.routing import Router, RouteResult
from funcroute.routing.cascade import DEFAULT_IRRELEVANCE_FLOOR
from funcroute.tools import ToolSet

FLOORS = (0.0, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6)
THRESHOLDS = (0.25, 0.3, 0.33, 0.36, 0.4, 0.5)
TOP_KS = (1, 2, 3, 5)
DEFAULTS = {
    "floor": DEFAULT_IRRELEVANCE_FLOOR,
    "threshold": DEFAULT_THRESHOLD,
    "top_k": 3,
    "grounded": True,
    "max_retries": 1,
}


class Memo(Backend):
    """A greedy backend's replies, generated once per distinct request and replayed after."""

    name = "memo"

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self.replies: dict[str, Completion] = {}
        self.spent_s = 0.0  # generation seconds the current grid point would have spent

    @staticmethod
    def key(request: Request) -> str:
        return json.dumps(
            [
                request.prompt,
                list(request.stop),
                request.max_new_tokens,
                request.schema,
                repr(request.grammar),
                request.kind,
                request.format,
            ],
            sort_keys=True,
            default=str,
        )

    def complete(self, request: Request) -> Completion:
        key = self.key(request)
        completion = self.replies.get(key)
        if completion is None:
            completion = self.replies[key] = self.inner.complete(request)
        self.spent_s += completion.elapsed_s
        return completion


class _MemoIndex:
    """A ToolIndex whose ``search`` results are remembered (the rest is the index itself)."""

    def __init__(self, index: Any) -> None:
        self._index = index
        self._found: dict[tuple[str, int], Any] = {}

    def search(self, command: str, k: int) -> Any:
        if (command, k) not in self._found:
            self._found[command, k] = self._index.search(command, k)
        return self._found[command, k]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._index, name)


class MemoSemantic(SemanticSelector):
    """The semantic router with its decision computed once per (ToolSet, command, threshold)."""

    def __init__(self) -> None:
        super().__init__()
        self._decisions: dict[tuple[int, str, float], Decision] = {}
        self._memo_indexes: dict[int, _MemoIndex] = {}

    def index(self, tools: ToolSet) -> Any:
        key = id(tools)
        if key not in self._memo_indexes:
            self._memo_indexes[key] = _MemoIndex(super().index(tools))
        return self._memo_indexes[key]

    def decide(self, tools: ToolSet, command: str) -> Decision:
        key = (id(tools), command, self.threshold)  # the cases keep their ToolSets alive
        if key not in self._decisions:
            self._decisions[key] = super().decide(tools, command)
        return self._decisions[key]


@dataclass(frozen=True)
class Point:
    """One grid point (the same names as ``bench/cascade.py``'s flags)."""

    floor: float
    threshold: float
    top_k: int
    grounded: bool
    max_retries: int

    def args(self) -> argparse.Namespace:
        return argparse.Namespace(
            floor=self.floor,
            threshold=self.threshold,
            top_k=self.top_k,
            no_grounding=not self.grounded,
            max_retries=self.max_retries,
            sole_margin=-1.0,  # the grid predates the sole-tool shortlist: the top k, as it was tuned
            abstain=False,
            no_fast_path=False,
        )

    def flags(self) -> str:
        parts = [f"--floor {self.floor}", f"--threshold {self.threshold}", f"--top-k {self.top_k}"]
        parts += [] if self.grounded else ["--no-grounding"]
        parts += [f"--max-retries {self.max_retries}"]
        return " ".join(parts)


def evaluate(
    point: Point, data: dict[str, list[Case]], model: Memo, template: Any, semantic: MemoSemantic
) -> list[dict[str, Any]]:
    """One row per floor of ``FLOORS`` for ``point`` (its own floor is ignored).

    The floor only acts on a command the fast path did not serve: it is refused when its semantic
    score is below the floor, and otherwise goes to the model exactly as with no floor. So each
    case is routed once with no floor, and every floor's outcome follows from that route's path and
    the decision's score (exact, given the order of :meth:`Cascade.select`'s checks).
    """
    unfloored = Point(-1e9, *list(point.__dict__.values())[1:])
    outcomes: dict[str, list[tuple[str, float, bool, bool, bool, float]]] = {}
    for category, cases in data.items():
        for case in cases:
            assert case.tools is not None
            model.spent_s = 0.0
            route = _route(case, unfloored, model, template, semantic)
            refused_ok = score(case, RouteResult(case.input), case.tools).ok
            decision = semantic.decide(case.tools, case.input)  # memoised: the cascade's own decision
            outcomes.setdefault(category, []).append(
                (
                    route.path,
                    decision.score,
                    score(case, route, case.tools).ok,
                    route.call is not None,
                    refused_ok,
                    model.spent_s,
                )
            )
    rows = []
    for floor in FLOORS:
        row: dict[str, Any] = {**point.__dict__, "floor": floor}
        spent = 0.0
        commands = 0
        for category, results in outcomes.items():
            ok = served = fast = 0
            for path, semantic_score, routed_ok, called, refused_ok, seconds in results:
                commands += 1
                if path != "fast" and semantic_score < floor:
                    ok += refused_ok
                    continue
                ok += routed_ok
                served += called
                fast += path == "fast"
                spent += seconds
            row[category] = ok / max(len(results), 1)
            row[f"{category}:served"] = served / max(len(results), 1)
            row[f"{category}:fast"] = fast / max(len(results), 1)
        row["balanced"] = sum(row[c] for c in outcomes) / max(len(outcomes), 1)
        row["model_s"] = spent / max(commands, 1)
        rows.append(row)
    return rows


def _route(case: Case, point: Point, model: Memo, template: Any, semantic: MemoSemantic) -> RouteResult:
    assert case.tools is not None
    cascade = make_cascade(model, template, semantic, point.args())
    return routed(Router(case.tools, selector=cascade), case.input)


def grid(top_ks: Sequence[int]) -> list[Point]:
    """Every grid point but the floor (see :func:`evaluate`); model-heavy axes vary slowest."""
    return [
        Point(0.0, threshold, top_k, grounded, retries)
        for grounded, top_k, retries, threshold in itertools.product(
            (True, False), top_ks, (0, 1), THRESHOLDS
        )
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-category", type=int, default=30)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--categories", nargs="*", default=["live_simple", "live_irrelevance"])
    parser.add_argument("--top-k", nargs="*", type=int, default=list(TOP_KS))
    parser.add_argument("--out", help="one JSON line per grid point")
    parser.add_argument("--show", type=int, default=15, help="how many of the best points to print")
    args = parser.parse_args()

    preset = load_preset("smollm2", n_threads=args.threads)
    model = Memo(preset.backend)
    semantic = MemoSemantic()
    data = {category: sample(load_bfcl(category), args.per_category) for category in args.categories}
    rows = []
    out = open(args.out, "w", encoding="utf-8") if args.out else None
    points = grid(args.top_k)
    for index, point in enumerate(points):
        for row in evaluate(point, data, model, preset.template, semantic):
            rows.append(row)
            if out is not None:
                out.write(json.dumps(row) + "\n")
                out.flush()
        if index % 10 == 0:
            print(f"{index + 1}/{len(points)} points, {len(model.replies)} model calls", file=sys.stderr)
    preset.backend.close()
    rows.sort(key=lambda r: (-r["balanced"], r["model_s"]))
    default = next((r for r in rows if all(r[k] == v for k, v in DEFAULTS.items())), rows[0])
    columns = [*args.categories, *(f"{c}:served" for c in args.categories)]
    columns += [f"{c}:fast" for c in args.categories]
    print(f"{len(rows)} grid points on {', '.join(f'{c} ({len(v)})' for c, v in data.items())}")
    print("| knobs | balanced | " + " | ".join(columns) + " | model s/cmd |")
    print("|---" * (len(columns) + 3) + "|")
    for label, row in [("default", default)] + [(f"#{i + 1}", r) for i, r in enumerate(rows[: args.show])]:
        flags = Point(**{k: row[k] for k in DEFAULTS}).flags()
        cells = " | ".join(f"{row[c]:.0%}" for c in columns)
        print(f"| {label}: `{flags}` | {row['balanced']:.1%} | {cells} | {row['model_s']:.2f} |")
    if out is not None:
        out.close()


if __name__ == "__main__":
    main()
