"""``python -m funcroute.backends.llama_server ARGS``: llama-cpp-python's own server, safe on AMX CPUs.

The same as ``python -m llama_cpp.server ARGS`` (every argument passes through), but the models it
loads skip llama.cpp's weight repacking where llama.cpp reports AMX, whose matrix kernel can crash
the server on its first request (see :mod:`funcroute.backends._llama_load`).
"""

from __future__ import annotations

import runpy

from funcroute._install import require
from funcroute.backends._llama_load import repacking


def main() -> None:
    """Run ``llama_cpp.server`` with this process's arguments, weights loaded as above."""
    llama_cpp = require("llama_cpp", "llamacpp", "llama-cpp-python is not installed", backend="llamacpp")
    with repacking(llama_cpp):
        runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
