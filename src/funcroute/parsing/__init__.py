"""Parsing: reply text to candidate calls, cheapest reading first, every step bounded.

- :mod:`~funcroute.parsing.limits`: the bounds (size, depth, candidates).
- :mod:`~funcroute.parsing.documents`: the whole reply, fenced blocks, embedded JSON and YAML,
  repaired JSON, as documents.
- :mod:`~funcroute.parsing.calls`: documents to ``(name, arguments)`` as the model wrote them.
- :mod:`~funcroute.parsing.checks` and :mod:`~funcroute.parsing.safe_yaml`: plain-JSON checks and
  a YAML loader safe for untrusted text.
- :mod:`~funcroute.parsing.stops`: where a call being generated ends.

Nothing here raises anything but :class:`~funcroute.errors.OutputParseError`.
"""

from funcroute.parsing.calls import RawCall, raw_calls
from funcroute.parsing.checks import json_problem
from funcroute.parsing.documents import iter_documents, whole_json, whole_yaml
from funcroute.parsing.limits import ParseLimits
from funcroute.parsing.safe_yaml import load_yaml
from funcroute.parsing.stops import closing_index, end_of_first_call, end_of_first_yaml_call

__all__ = [
    "ParseLimits",
    "RawCall",
    "closing_index",
    "end_of_first_call",
    "end_of_first_yaml_call",
    "iter_documents",
    "json_problem",
    "load_yaml",
    "raw_calls",
    "whole_json",
    "whole_yaml",
]
