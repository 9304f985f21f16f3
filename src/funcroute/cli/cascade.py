"""CLI glue for the bundled model: ``--model smollm2`` and the default selector of ``funcroute route``.

``funcroute route`` without ``--model``/``--endpoint`` uses the cascade (:mod:`funcroute.routing.cascade`):
the semantic router when it is sure, the bundled SmolLM2 otherwise. Without the bundled model it is the
cascade's first stage alone (semantic only) and says so on stderr, with the install hint.
``--semantic-only`` (also ``--no-cascade``) asks for the semantic router alone, no model, as before the
cascade became the default; ``--cascade`` is still accepted and changes nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Iterator
from typing import Any

from funcroute.errors import FuncRouteError, NoSuitableFunctionError, UsageError
from funcroute.routing.results import RouteResult
from funcroute.routing.router import Router
from funcroute.routing.selector import Selector

__all__ = [
    "add_selector_options",
    "check_selector_options",
    "default_router",
    "default_selector",
    "is_preset",
    "preset_backend",
    "shows_path",
    "with_path",
]

CASCADE_HELP = (
    "the default without --model/--endpoint (kept for old scripts; changes nothing): the semantic "
    "router first, the bundled SmolLM2 for commands it is unsure of"
)
SEMANTIC_ONLY_HELP = "the offline semantic router alone: no model is loaded or asked"


def is_preset(model: str | None) -> bool:
    """Whether ``--model`` names a bundled preset (``smollm2``) rather than a path or hub id."""
    from funcroute.backends.presets import preset_names

    return model is not None and model in preset_names()


def preset_backend(args: argparse.Namespace) -> Any:
    """Load the preset ``--model`` names; its own chat template applies unless ``--template`` is given."""
    from funcroute.backends.presets import load_preset

    preset = load_preset(args.model)
    if not args.template:
        args.template = preset.template
    return preset.backend


def add_selector_options(cmd: argparse.ArgumentParser) -> None:
    """Add ``--cascade`` (the default, a no-op) and ``--semantic-only``/``--no-cascade`` to ``cmd``."""
    group = cmd.add_mutually_exclusive_group()
    group.add_argument("--cascade", action="store_true", help=CASCADE_HELP)
    group.add_argument(
        "--semantic-only", "--no-cascade", dest="semantic_only", action="store_true", help=SEMANTIC_ONLY_HELP
    )


def check_selector_options(args: argparse.Namespace) -> None:
    """Refuse a selector flag beside an explicit model: each names how calls are chosen."""
    flag = "--semantic-only" if args.semantic_only else "--cascade" if args.cascade else None
    if flag is not None and (args.model or args.endpoint):
        given = "--model" if args.model else "--endpoint"
        raise UsageError(f"{flag} chooses calls without --model/--endpoint; give {flag} or {given}, not both")


def default_selector(*, semantic_only: bool = False, template: Any = None) -> tuple[Selector, Any]:
    """The selector of a route without a model flag, and the model backend to close after it.

    Args:
        semantic_only: the semantic router alone (``--semantic-only``): nothing is loaded.
        template: a chat template for the bundled model instead of its own (``--template``).

    Returns:
        ``(selector, backend)``: the cascade over the bundled SmolLM2 when it is installed; otherwise
        the cascade's semantic stage alone, after one line on stderr with the install hint (``backend``
        is then ``None``); with ``semantic_only``, a plain :class:`SemanticSelector`.

    Raises:
        BackendError: the bundled model is installed but does not load.
    """
    from funcroute.backends.presets import load_preset, preset_available
    from funcroute.routing.cascade import Cascade

    if semantic_only:
        from funcroute.offline.selector import SemanticSelector

        return SemanticSelector(), None
    if not preset_available("smollm2"):
        from funcroute._install import install_hint

        print(
            "funcroute: the bundled model is not installed: routing with the semantic router only "
            f"(no LLM); for the cascade: {install_hint('smol')}",
            file=sys.stderr,
        )
        return Cascade(None), None
    preset = load_preset("smollm2")
    return Cascade(preset.backend, template=template or preset.template), preset.backend


@contextlib.contextmanager
def default_router(args: argparse.Namespace, tools: Any, approve: Any) -> Iterator[Router]:
    """The Router of ``funcroute route`` without ``--model``/``--endpoint``; closes the model after."""
    selector, backend = default_selector(semantic_only=args.semantic_only, template=args.template)
    try:
        with Router(tools, selector=selector, approve=approve, audit_log=args.audit_log) as router:
            yield router
    finally:
        if backend is not None:
            backend.close()


def shows_path(router: Router) -> bool:
    """Whether the route record names the path (the cascade's), on top of the batch record's keys."""
    from funcroute.routing.cascade import Cascade

    return isinstance(router.selector, Cascade)


def with_path(record: dict[str, Any], outcome: RouteResult | FuncRouteError) -> dict[str, Any]:
    """``record`` with the cascade's ``path``, ``reason`` and ``provenance`` of a result or a failure."""
    if isinstance(outcome, RouteResult):
        record["path"], record["reason"] = outcome.path, outcome.reason
        record["provenance"] = {name: vars(p) for name, p in outcome.provenance.items()}
    elif isinstance(outcome, NoSuitableFunctionError):
        record.update(path="refused", reason=outcome.reason, provenance={})
    else:  # the call was chosen but failed later (not approved, the handler raised): no path to show
        record.update(path=None, reason=None, provenance={})
    return record
