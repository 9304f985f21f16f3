"""The built distribution: a wheel and an sdist that install and run in a fresh virtual environment.

These tests build the package the way a release would (``python -m build``), then install the wheel
into a new venv that has nothing of this checkout, so a file missing from the wheel (``py.typed``, the
JSON Schemas) or a dependency missing from ``pyproject.toml`` fails here rather than for a user.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from funcroute._install import DISTRIBUTION, install_hint

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "funcroute"

TOOL_FILE = """\
file_analytics:
  description: This tool performs various operations on a text file.
  params:
    action: The operation we want to perform on the data, such as "count_occurrences", "find_line", etc.
    filters:
      keyword: The word or phrase we want to search for.
"""

REPLY = json.dumps(
    {"function": "file_analytics", "params": {"action": "count_occurrences", "filters": {"keyword": "x"}}}
)


@pytest.fixture(scope="module")
def dist_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An sdist and a wheel built from this checkout, with the build's log beside them."""
    pytest.importorskip("build", reason="the dev extra installs 'build'")
    out = tmp_path_factory.mktemp("dist")
    # --no-isolation: build with the setuptools of this venv (pinned by the lock) instead of fetching
    # one; the isolated build is what a release runs, and uses the same backend and the same files.
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
        # With PYTHONDONTWRITEBYTECODE set, distutils notes that it skips byte-compiling: not a problem
        # of ours, but it would hide the warnings this module looks for among its own.
        env={k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
    )
    (out / "build.log").write_text(proc.stdout + proc.stderr)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    return out


def _one(folder: Path, pattern: str) -> Path:
    found = sorted(folder.glob(pattern))
    assert len(found) == 1, f"expected one {pattern} in {folder}, found {found}"
    return found[0]


def test_build_emits_no_warnings(dist_dir: Path) -> None:
    log = (dist_dir / "build.log").read_text()
    noisy = [line for line in log.splitlines() if re.search(r"warning|deprecat", line, re.IGNORECASE)]
    assert not noisy, "\n".join(noisy)


def test_wheel_metadata_and_files(dist_dir: Path) -> None:
    wheel = _one(dist_dir, "funcroute_llm-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(archive.read(meta_name).decode())
        entry_points = archive.read(meta_name.replace("METADATA", "entry_points.txt")).decode()
    assert meta["Name"] == DISTRIBUTION
    assert meta["License-Expression"] == "Apache-2.0"
    assert meta.get_all("License-File") == ["LICENSE"]
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "funcroute/py.typed" in names
    shipped = {n.rsplit("/", 1)[-1] for n in names if n.startswith("funcroute/schemas/")}
    assert {"call.schema.json", "toolset.schema.json"} <= shipped
    assert "funcroute = funcroute.cli.main:main" in entry_points
    assert "funcroute = funcroute.testing.plugin" in entry_points
    # The import package is funcroute; nothing of the checkout's tests or tooling leaks into the wheel.
    assert {n.split("/", 1)[0] for n in names if not n.startswith("funcroute_llm-")} == {"funcroute"}


def test_sdist_carries_sources_and_schemas(dist_dir: Path) -> None:
    sdist = _one(dist_dir, "funcroute_llm-*.tar.gz")
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
    assert "pyproject.toml" in names
    assert "src/funcroute/py.typed" in names
    assert "src/funcroute/schemas/toolset.schema.json" in names


def test_wheel_installs_and_runs_in_a_fresh_venv(dist_dir: Path, tmp_path: Path) -> None:
    wheel = _one(dist_dir, "funcroute_llm-*.whl")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert install.returncode == 0, install.stderr[-4000:]

    # Run from tmp_path so that nothing of the checkout can be imported by accident.
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)

    where = run(str(python), "-c", "import funcroute, pathlib; print(pathlib.Path(funcroute.__file__))")
    assert where.returncode == 0, where.stderr
    assert str(env_dir) in where.stdout and str(ROOT) not in where.stdout
    has_marker = "import importlib.resources as r; print(r.files('funcroute').joinpath('py.typed').is_file())"
    typed = run(str(python), "-c", has_marker)
    assert typed.stdout.strip() == "True"

    cli = env_dir / "bin" / "funcroute"
    helped = run(str(cli), "--help")
    assert helped.returncode == 0 and "validate" in helped.stdout, helped.stderr
    (tmp_path / "tools.yaml").write_text(TOOL_FILE)
    (tmp_path / "reply.txt").write_text(REPLY)
    validated = run(str(cli), "validate", "--tools", "tools.yaml", "reply.txt")
    assert validated.returncode == 0, validated.stderr
    assert '"keyword": "x"' in validated.stdout
    (tmp_path / "prose.txt").write_text("I would rather not call anything.")
    refused = run(str(cli), "validate", "--tools", "tools.yaml", "prose.txt")
    assert refused.returncode != 0 and "Traceback" not in refused.stderr and refused.stderr.strip()


def test_install_hints_name_the_distribution() -> None:
    assert install_hint("semantic") == 'pip install "funcroute-llm[semantic]"'
    # The PyPI name "funcroute" is another project: no hint may tell users to install it.
    wrong = re.compile(r"pip install\s+[\"']?funcroute(\[|[\"'\s]|$)")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in [*SRC.rglob("*.py"), ROOT / "README.md", *ROOT.joinpath("demos").rglob("*.md")]
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if wrong.search(line)
    ]
    assert not offenders, offenders


def test_the_core_imports_without_any_optional_extra() -> None:
    # The wheel test above needs `build`; this one runs everywhere: every optional dependency is
    # made unimportable, and the package root, routing, plans, evaluation and the CLI still import.
    optional = ("numpy", "torch", "transformers", "llama_cpp", "llguidance", "jinja2", "mcp", "starlette")
    code = (
        "import sys\n"
        f"for name in {optional!r}: sys.modules[name] = None\n"
        "import funcroute, funcroute.routing, funcroute.plans, funcroute.evaluation, funcroute.cli.main\n"
        "from funcroute import Router, ToolSet\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
