"""Routing: how a call is chosen (a selector), then approved, dispatched and audited (the Router).

- :mod:`~funcroute.routing.selector`: the seam, :class:`Selector` → :class:`Selection`.
- :mod:`~funcroute.routing.llm`: the LLM selector (prompt, backend, repair loop);
  :mod:`~funcroute.routing.repair` is the one repair loop, shared with plans;
  :mod:`~funcroute.routing.native` speaks a model's own template and tool format.
- :mod:`~funcroute.routing.cascade`: the semantic selector first, a small model second.
- :mod:`~funcroute.routing.router`: the Router; :mod:`~funcroute.routing.results` and
  :mod:`~funcroute.routing.audit` are what it produces and records.

The offline semantic selector lives with the rest of the no-LLM machinery, in
:mod:`funcroute.offline.selector`.
"""

from funcroute.routing.cascade import Cascade
from funcroute.routing.llm import LLMSelector
from funcroute.routing.results import Attempt, RouteResult
from funcroute.routing.router import Router
from funcroute.routing.selector import Selection, Selector

__all__ = ["Attempt", "Cascade", "LLMSelector", "RouteResult", "Router", "Selection", "Selector"]
