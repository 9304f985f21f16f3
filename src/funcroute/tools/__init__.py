"""Tools: functions and tool files in, a registry that renders, reads, validates and dispatches.

- :mod:`~funcroute.tools.signature` and :mod:`~funcroute.tools.validators`: a type-hinted
  function becomes a JSON Schema and a pydantic validator.
- :mod:`~funcroute.tools.tool` and :mod:`~funcroute.tools.call`: one tool, one validated call.
- :mod:`~funcroute.tools.loaders`: tools from data (tool files, OpenAI specs, BFCL docs).
- :mod:`~funcroute.tools.toolset`: the registry; :mod:`~funcroute.tools.replies` reads a reply
  against it and :mod:`~funcroute.tools.dispatch` runs the call.
"""

from funcroute.tools.call import Call
from funcroute.tools.tool import Approver, Tool
from funcroute.tools.toolset import ToolSet

__all__ = ["Approver", "Call", "Tool", "ToolSet"]
