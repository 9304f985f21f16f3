"""Route commands to Python functions without any language model.

    python demos/route_offline.py

``Router(tools)`` with no backend uses the offline semantic router: the bundled all-MiniLM-L6-v2
sentence encoder picks the tool whose description is closest to the command, and the parameters are
read from the command by type. Commands that fit no tool are refused with the reason.
"""

from __future__ import annotations

from tools import tools

from funcroute import NoSuitableFunctionError, Router

router = Router(tools)  # no backend: offline semantic routing, no LLM
for command in (
    "On which lines does 'snake' appear in the text file?",
    "Convert 37 celsius to fahrenheit",
    "Play some jazz in the kitchen",
):
    try:
        result = router.route(command)
    except NoSuitableFunctionError as exc:
        print(f"{command}\n  refused: {exc.reason}\n")
    else:
        assert result.call is not None
        print(f"{command}\n  call:   {result.call.function}({result.call.arguments})")
        print(f"  result: {result.value}\n")
