"""The real model, built only when a cassette is recorded (``pytest --funcroute-record``).

Replaying never calls this, so the tests run offline in CI with no model installed.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable

import pytest

from funcroute.backends.base import Backend, Request
from funcroute.backends.scripted import FunctionBackend

#: What a good Airoboros model answers; used only by FUNCROUTE_DEMO_MODEL=stand-in (see README).
STAND_IN_REPLIES = {
    "How many times is 'Python' mentioned in my text file?": "```json\n"
    + json.dumps(
        {
            "function": "file_analytics",
            "params": {"action": "count_occurrences", "filters": {"keyword": "Python"}},
        }
    )
    + "\n```",
    "Is it warm in Paris right now?": json.dumps({"function": "get_weather", "params": {"city": "Paris"}}),
    "Weather in Oslo and in Lima, in fahrenheit please.": json.dumps(
        [
            {"function": "get_weather", "params": {"city": "Oslo", "units": "fahrenheit"}},
            {"function": "get_weather", "params": {"city": "Lima", "units": "fahrenheit"}},
        ],
        indent=2,
    ),
    "Email bob@example.com that the report is late, subject 'Report'.": json.dumps(
        {
            "function": "send_email",
            "params": {"to": "bob@example.com", "subject": "Report", "body": "The report is late."},
        }
    ),
    "Book a table for two at an Italian restaurant tonight.": json.dumps(
        {"function": "none", "params": {"reason": "None of the functions can book a restaurant table."}}
    ),
}


class StandIn(FunctionBackend):
    """Scripted answers in place of a model, to refresh the cassettes after a prompt-format change."""

    name = "stand-in"

    def __init__(self) -> None:
        super().__init__(self._answer)

    @staticmethod
    def _answer(request: Request) -> str:
        return STAND_IN_REPLIES[request.user_input or ""]


@pytest.fixture
def real_model() -> Callable[[], Backend]:
    """A factory of the real model: cassettes call it only when recording."""
    return _build


def _build() -> Backend:
    """The model named by the environment: an OpenAI-compatible server, a .gguf file or a HF directory."""
    endpoint = os.environ.get("FUNCROUTE_DEMO_ENDPOINT")
    model = os.environ.get("FUNCROUTE_DEMO_MODEL")
    if endpoint:
        from funcroute.backends.openai import OpenAIBackend

        return OpenAIBackend(endpoint, os.environ.get("FUNCROUTE_DEMO_MODEL_NAME", "airoboros"))
    if model == "stand-in":
        return StandIn()
    if model and model.endswith(".gguf"):
        from funcroute.backends.llamacpp import LlamaCppBackend

        return LlamaCppBackend(model)
    if model:
        from funcroute.backends.transformers import TransformersBackend

        return TransformersBackend(model)
    pytest.fail(
        "recording a cassette needs a model: set FUNCROUTE_DEMO_MODEL (a transformers directory, a .gguf "
        "file, or 'stand-in') or FUNCROUTE_DEMO_ENDPOINT (+ FUNCROUTE_DEMO_MODEL_NAME)"
    )
