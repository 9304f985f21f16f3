"""Snapshots of rendered prompts: a changed tool signature or docstring becomes a reviewable diff.

::

    def test_prompt(funcroute_snapshot):
        funcroute_snapshot.prompt(tools, "What's the weather in Paris?", name="weather")

The first run (with ``--funcroute-update-snapshots``) writes ``snapshots/weather.txt`` beside the test
file; later runs compare the prompt with it and fail with a unified diff when it changed. Commit the
snapshot files: their diffs in review show exactly what the model will see differently.
"""

from __future__ import annotations

import difflib
import os
import re
import tempfile
from pathlib import Path
from typing import NoReturn

from funcroute.prompts.selection import Format
from funcroute.prompts.templates import ChatTemplate, get_template
from funcroute.tools.toolset import ToolSet

__all__ = ["PromptSnapshot", "assert_snapshot"]

_SAFE = re.compile(r"[^\w.\-]+")


def _fail(message: str) -> NoReturn:
    import pytest

    __tracebackhide__ = True
    pytest.fail(message, pytrace=False)


def assert_snapshot(text: str, path: Path, *, update: bool = False) -> bool:
    """Compare ``text`` with the snapshot file at ``path``; write it instead when ``update``.

    Returns:
        Whether the file was written (created or changed).

    Raises:
        pytest's failure exception: the snapshot is missing or differs (with a unified diff).
    """
    __tracebackhide__ = True
    old = path.read_text(encoding="utf-8") if path.exists() else None
    if old == text:
        return False
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(temp, path)
        return True
    if old is None:
        _fail(f"snapshot {path} does not exist; write it with: pytest --funcroute-update-snapshots")
    diff = difflib.unified_diff(
        old.splitlines(), text.splitlines(), f"{path.name} (snapshot)", f"{path.name} (now)", lineterm=""
    )
    _fail(
        f"snapshot {path} differs from the rendered text:\n"
        + "\n".join(diff)
        + "\nIf the change is intended, accept it with: pytest --funcroute-update-snapshots"
    )


class PromptSnapshot:
    """Snapshot helper bound to one test: files live in ``directory``, named after ``default_name``.

    Args:
        directory: where snapshot files are kept.
        default_name: the name used when a call gives none (the test's name).
        update: write snapshots instead of comparing.
    """

    def __init__(self, directory: Path, default_name: str, *, update: bool = False) -> None:
        self.directory = Path(directory)
        self.default_name = default_name
        self.update = update
        self.written: list[Path] = []
        self._used: set[str] = set()

    def path(self, name: str | None = None) -> Path:
        """The file a snapshot called ``name`` lives in."""
        return self.directory / f"{_SAFE.sub('_', name or self.default_name).strip('_') or 'snapshot'}.txt"

    def assert_match(self, text: str, name: str | None = None) -> None:
        """Assert that ``text`` equals the snapshot ``name`` (default: the test's name).

        Raises:
            pytest's failure exception: the snapshot is missing or differs, or the name was used twice.
        """
        __tracebackhide__ = True
        path = self.path(name)
        if path.name in self._used:
            _fail(f"snapshot name {path.stem!r} is used twice in this test; give each snapshot its own name")
        self._used.add(path.name)
        if assert_snapshot(text, path, update=self.update):
            self.written.append(path)

    def prompt(
        self,
        tools: ToolSet,
        user_input: str = "{input}",
        *,
        name: str | None = None,
        format: Format = "json",
        template: str | ChatTemplate | None = None,
        show_types: bool = False,
    ) -> str:
        """Render the selection prompt (optionally inside a chat template) and snapshot it.

        Returns:
            The rendered prompt.
        """
        __tracebackhide__ = True
        text = tools.prompt(user_input, format, show_types=show_types)
        if template is not None:
            text = get_template(template).render(text)
        self.assert_match(text if text.endswith("\n") else text + "\n", name)
        return text
