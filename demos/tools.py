"""The demo tools over ``demos/sample.txt``, as a ``--tools`` file for the CLI.

    funcroute tools --tools demos/tools.py -v
    funcroute route --tools demos/tools.py "How many times is 'Python' in the file?"

No ``--model``/``--endpoint``: the cascade chooses the call (the offline semantic router, then the
bundled SmolLM2 when it is unsure and installed); ``--semantic-only`` involves no LLM at all.
E-mails are written to ``demos/outbox/`` (nothing is sent).
"""

from __future__ import annotations

from pathlib import Path

from funcroute.cli.demo_tools import build_demo_tools

HERE = Path(__file__).resolve().parent
tools = build_demo_tools(HERE / "sample.txt", outbox=HERE / "outbox")
