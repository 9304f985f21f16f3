"""``funcroute serve``: OpenAI-compatible chat completions with tool calling, for any funcroute backend.

Needs the ``serve`` extra (``pip install "funcroute-llm[serve]"``). The library never imports this
package; it sits on top of backends, prompts and ToolSets.

Example:
    >>> from funcroute.serve import create_app  # doctest: +SKIP
    >>> app = create_app(LlamaCppBackend("model.gguf"), template="airoboros-2")  # doctest: +SKIP
"""

from __future__ import annotations

from funcroute.serve.app import create_app
from funcroute.serve.engine import Engine, Limits, OutCall, Outcome
from funcroute.serve.schemas import ApiError, ChatRequest

__all__ = ["ApiError", "ChatRequest", "Engine", "Limits", "OutCall", "Outcome", "create_app"]
