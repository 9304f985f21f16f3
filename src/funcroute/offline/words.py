"""Words of commands and tool texts: splitting, light stemming, stopwords (plain Python, no numpy).

Shared by retrieval (which scores tools), the mention finder and the value extractor, so that all
of them agree on what a word is; kept apart from retrieval so that reading a command's values needs
none of the encoder's dependencies.
"""

from __future__ import annotations

import re

__all__ = ["STOPWORDS", "content_words", "name_words", "names_the_tool", "stem", "word_spans", "words"]

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_WORD = re.compile(r"[A-Za-z]+|\d+(?:\.\d+)?")

# Function words and request filler carry no hint of which tool is meant.
STOPWORDS = frozenset(
    """a an the and or but if then else of to in on at by for with from into onto over under about as
    is are was were be been being am do does did done doing have has had having it its this that these
    those there here what which who whom whose when where why how i me my we our you your he she him
    her his they them their can could would should shall will may might must please want wants need
    needs like let lets give tell show know find get gets got make made some any all each every also
    just so than too very much many more most other such only own same not no nor up down out off
    again further once one ones s t don now using use used via per given calculate compute retrieve""".split()
)


def name_words(name: str) -> str:
    """``get_weatherForecast`` / ``math.factorial`` -> ``get weather forecast`` / ``math factorial``."""
    spaced = _CAMEL.sub(" ", name)
    return " ".join(re.sub(r"[^A-Za-z0-9]+", " ", spaced).lower().split())


def stem(word: str) -> str:
    """A light suffix stripper: enough to match ``files``/``file`` and ``counting``/``count``."""
    w = word.lower()
    if len(w) <= 3 or w[0].isdigit():
        return w
    for suffix, repl in (("ies", "y"), ("sses", "ss"), ("ing", ""), ("ied", "y"), ("ed", ""), ("es", "e")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3:
            w = w[: -len(suffix)] + repl
            break
    else:
        if w.endswith("s") and not w.endswith(("ss", "us")):
            w = w[:-1]
    return w[:-1] if w.endswith("e") and len(w) > 4 else w


def words(text: str) -> list[str]:
    """Lower-case words and numbers of ``text``, code identifiers split (``maxResults`` -> max results)."""
    return [w.lower() for w in _WORD.findall(_CAMEL.sub(" ", text))]


def word_spans(text: str) -> list[tuple[int, int]]:
    """Character spans of the words (letters, or digits with decimals) of ``text``.

    The word rule of :func:`words`, without its camelCase splitting.
    """
    return [m.span() for m in _WORD.finditer(text)]


def content_words(text: str) -> list[str]:
    """Stemmed words of ``text``, without stopwords and numbers."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and not w[0].isdigit()]


def names_the_tool(text: str, tool_name: str) -> bool:
    """Whether a name in the command is the tool's own ("GameSpot" for ``gamespot.getAverageUserScore``).

    The command names what the tool is about ("the three great Schism in Christianity" for
    ``religion_history.get_schisms``); its value is another word.
    """
    parts = {part for part in re.split(r"[^a-z0-9]+", tool_name.lower()) if part}
    if re.sub(r"[^a-z0-9]+", "", text.lower()) in parts:
        return True
    own = {stem(word) for word in name_words(tool_name).split()}
    said = [stem(word) for word in words(text)]
    return bool(said) and set(said) <= own
