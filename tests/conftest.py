"""Shared fixtures. Heavy imports (torch, transformers) happen inside fixtures, only when used."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from funcroute.backends.transformers import TransformersBackend
    from funcroute.tools.toolset import ToolSet


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama model + byte-level BPE tokenizer, built once per test session."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from funcroute.testing import build_tiny_model

    # The tiny model gains nothing from threads; on a busy CI box OpenMP spin-waits make it 5x slower.
    torch.set_num_threads(1)

    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir: Path) -> TransformersBackend:
    """A greedy CPU TransformersBackend over the tiny model. Shared: do not mutate it."""
    from funcroute.backends.transformers import TransformersBackend

    return TransformersBackend(tiny_model_dir, device="cpu")


@pytest.fixture(scope="module")
def demo_tools(tmp_path_factory: pytest.TempPathFactory) -> ToolSet:
    """The demo's ToolSet over a fresh notes file and outbox (one per test module)."""
    from funcroute.cli.demo_tools import SAMPLE_TEXT, build_demo_tools

    tmp = tmp_path_factory.mktemp("demo")
    notes = tmp / "notes.txt"
    notes.write_text(SAMPLE_TEXT, encoding="utf-8")
    return build_demo_tools(notes, outbox=tmp / "outbox")


# Tests that exercise real backends on purpose (the tiny local model, llama.cpp, httpx mock transports
# and a local server). funcroute's pytest plugin fails any other test that builds or calls one.
_REAL_BACKEND_MODULES = frozenset(
    {"test_backend_llamacpp", "test_backend_openai", "test_backend_transformers", "test_constrained"}
)
_REAL_BACKEND_FIXTURES = frozenset({"tiny_backend", "tiny_model_dir"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests above ``funcroute_real_backend``."""
    for item in items:
        module = getattr(item, "module", None)
        in_module = module is not None and module.__name__ in _REAL_BACKEND_MODULES
        if in_module or _REAL_BACKEND_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.funcroute_real_backend)


# ------------------------------------------------------------------- the real-model tier's time
# Tests marked ``realmodel`` run SmolLM2 for real (tests/realmodel/, tests/backends/test_realmodel.py).
# Their setup, call and teardown times are summed, so the model loads count, and printed at the end.
_realmodel: dict[str, tuple[float, str]] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Add up the durations of each ``realmodel`` test and keep its outcome."""
    if "realmodel" not in report.keywords:
        return
    seconds, outcome = _realmodel.get(report.nodeid, (0.0, "passed"))
    if outcome == "passed":  # the first skip or failure (in setup, call or teardown) is the test's
        outcome = report.outcome
    _realmodel[report.nodeid] = (seconds + report.duration, outcome)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the real-model tier's total time (model loads included) and outcomes."""
    if not _realmodel:
        return
    outcomes = [outcome for _, outcome in _realmodel.values()]
    counts = ", ".join(f"{outcomes.count(o)} {o}" for o in ("passed", "failed", "skipped") if o in outcomes)
    total = sum(seconds for seconds, _ in _realmodel.values())
    terminalreporter.write_sep(
        "-", f"real-model tier (SmolLM2): {counts} in {total:.1f} s, model loads included"
    )
