"""Evaluation: cases (files, BFCL), scoring by BFCL's AST rules, and a runner with a report.

- :mod:`~funcroute.evaluation.cases`: case files, reply files and BFCL categories as :class:`Case`.
- :mod:`~funcroute.evaluation.scoring`: one case's score, :func:`evaluate` over many, the report.

Evaluation sits on top of routing; the library never imports it.
"""

from funcroute.evaluation.cases import load_bfcl, load_cases
from funcroute.evaluation.scoring import (
    KINDS,
    NO_CALL_TOOL,
    Case,
    CaseResult,
    ExpectedCall,
    Report,
    evaluate,
    score,
    with_no_call_tool,
)

__all__ = [
    "KINDS",
    "NO_CALL_TOOL",
    "Case",
    "CaseResult",
    "ExpectedCall",
    "Report",
    "evaluate",
    "load_bfcl",
    "load_cases",
    "score",
    "with_no_call_tool",
]
