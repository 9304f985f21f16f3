"""The pytest plugin, run for real with pytester: assertions, fakes, the real-backend block, cassettes
and prompt snapshots, each through an example test file and the output pytest prints for it.

Inner runs are in-process (fast); the module is marked ``funcroute_real_backend`` so the outer test's
own guard frame does not leak into the inner session (an inner test is blocked by its own frame).
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from funcroute import ToolSet
from funcroute.backends.base import Completion
from funcroute.testing.assertions import (
    ABSENT,
    ANY,
    assert_calls,
    assert_parallel_calls,
    assert_valid_call,
    one_of,
)
from funcroute.testing.cassette import describe_change, dump_interactions, load_interactions

pytest_plugins = ["pytester"]
pytestmark = pytest.mark.funcroute_real_backend

REPO = Path(__file__).resolve().parents[2]


def _entry_point() -> importlib.metadata.EntryPoint | None:
    found = [ep for ep in importlib.metadata.entry_points(group="pytest11") if ep.name == "funcroute"]
    return found[0] if found else None


# Before `pip install -e .` registers the entry point, load the plugin by hand (never both: pluggy
# refuses to register one module under two names).
PLUGIN = [] if _entry_point() is not None else ["-p", "funcroute.testing.plugin"]

INI = """
[pytest]
addopts = --strict-markers --strict-config -p no:cacheprovider
filterwarnings = error
"""

APP = '''
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from funcroute import ToolSet
from funcroute.backends.base import Backend, Completion, Request

tools = ToolSet()


class Filters(BaseModel):
    keyword: str = Field(description="The word or phrase we want to search for.")


@tools.tool
def file_analytics(
    action: Annotated[
        str,
        Field(
            description='The operation we want to perform on the data, such as "count_occurrences", '
            '"find_line", etc.'
        ),
    ],
    filters: Filters,
) -> str:
    """This tool performs various operations on a text file."""
    return f"{action} {filters.keyword}"


@tools.tool
def get_weather(city: str, units: Literal["celsius", "fahrenheit"] = "celsius") -> str:
    """Get the current weather for a city.

    Args:
        city: The city to look up.
        units: Temperature units.
    """
    return f"sunny in {city}"


REPLIES = {
    "What's the weather in Paris?": '{"function": "get_weather", "params": {"city": "Paris"}}',
    "How many times is 'Python' in notes.txt?": '{"function": "file_analytics", "params": '
    '{"action": "count_occurrences", "filters": {"keyword": "Python"}}}',
}


class LocalModel(Backend):
    """Stands in for a real model (any Backend that is not a fake): answers from REPLIES, logs calls."""

    name = "local-model"

    def __init__(self, log):
        self.log = log

    def complete(self, request: Request) -> Completion:
        with open(self.log, "a") as out:
            out.write(request.user_input + "\\n")
        return Completion(REPLIES[request.user_input], prompt_tokens=123, completion_tokens=17)
'''


@pytest.fixture
def project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makeini(INI)
    pytester.makepyfile(app=APP)
    pytester.syspathinsert()
    return pytester


def run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    # Hypothesis' plugin imports hypothesis (a second) in every inner run; these runs never use it.
    return pytester.runpytest(*PLUGIN, "-p", "no:hypothesispytest", *args)


# ------------------------------------------------------------------------------------ registration


def test_entry_point_names_the_plugin_module() -> None:
    entry = _entry_point()
    assert entry is not None, "funcroute's pytest11 entry point is not installed: run pip install -e ."
    assert entry.value == "funcroute.testing.plugin"


def test_markers_and_options_are_registered(project: pytest.Pytester) -> None:
    result = run(project, "--markers")
    result.stdout.fnmatch_lines(
        ["@pytest.mark.funcroute_real_backend:*", "@pytest.mark.funcroute_cassette(name):*"]
    )
    help_text = run(project, "--help").stdout.str()
    for option in ("--funcroute-record", "--funcroute-update-snapshots", "--funcroute-allow-real-backends"):
        assert option in help_text
    assert "funcroute_block_real_backends" in help_text


def test_importing_the_plugin_does_not_import_torch() -> None:
    code = (
        "import sys, funcroute.testing.plugin; print('torch' in sys.modules, 'transformers' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


# -------------------------------------------------------------------------------------- assertions


def test_assertions_pass_and_fail_with_readable_messages(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_calls="""
        import json

        from app import tools
        from funcroute.testing.assertions import ANY, assert_calls, assert_valid_call, one_of

        PARAMS = {"action": "count_occurrences", "filters": {"keyword": "Python"}}
        CALL = {"function": "file_analytics", "params": PARAMS}
        REPLY = "```json\\n" + json.dumps(CALL) + "\\n```"

        def test_partial_match():
            call = assert_calls(REPLY, tools, "file_analytics", filters={"keyword": "Python"})
            assert call.arguments["action"] == "count_occurrences"
            assert_calls(REPLY, tools, "file_analytics", action=one_of("count_occurrences", "x"), filters=ANY)

        def test_wrong_argument():
            assert_calls(REPLY, tools, "file_analytics", action="find_line", filters={"keyword": "python"})

        def test_invalid_reply():
            assert_valid_call('{"function": "get_weather", "params": {"units": "kelvin"}}', tools)
        """
    )
    result = run(project, "-q")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: the call does not match:",
            "*  action: expected 'find_line', got 'count_occurrences'",
            "*  filters.keyword: expected 'python', got 'Python'",
            "*diff (- expected, + actual):",
            '*-*"action": "find_line",',
            '*+*"action": "count_occurrences",',
            "*reply:",
            "*  | ```json",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*AssertionError: the reply is not a valid call for ToolSet(file_analytics, get_weather):",
            "*CallValidationError: invalid arguments for 'get_weather' (2 problems)*",
            "*validation problems:",
            "*  city: Field required [[]missing[]]",
            "*  units: *'celsius' or 'fahrenheit' [[]literal_error[]]",
            '*  | {"function": "get_weather", "params": {"units": "kelvin"}}',
        ]
    )


def test_fake_backend_fixture_routes_without_a_model(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_fakes="""
        from app import tools
        from funcroute.routing.router import Router
        from funcroute.testing.assertions import assert_calls

        def test_scripted_with_a_repair(funcroute_backend):
            oslo = '{"function": "get_weather", "params": {"city": "Oslo"}}'
            backend = funcroute_backend(["not a call", oslo])
            result = Router(tools, backend).route("Weather in Oslo?", dry_run=True)
            assert_calls(result, tools, "get_weather", city="Oslo")
            assert len(backend.prompts) == 2 and backend.remaining == 0

        def test_function_backend(funcroute_backend):
            reply = '{"function": "get_weather", "params": {"city": "%s"}}'
            backend = funcroute_backend(lambda request: reply % request.user_input)
            assert Router(tools, backend).route("Lima").value == "sunny in Lima"
        """
    )
    run(project, "-q").assert_outcomes(passed=2)


# ---------------------------------------------------------------------------- the real-backend block

BLOCKED = """
import httpx
import pytest
from app import LocalModel, tools
from funcroute.backends.base import Request
from funcroute.backends.openai import OpenAIBackend
from funcroute.backends.scripted import FunctionBackend
from funcroute.routing.router import Router
from funcroute.testing.plugin import offline_backend

EARLY = LocalModel("calls.log")   # built at import time: construction is allowed, completions are not


def fake_server(request):
    text = '{"function": "get_weather", "params": {"city": "Rome"}}'
    body = {"choices": [{"text": text, "finish_reason": "stop"}]}
    return httpx.Response(200, json=body)


def test_openai_backend_is_blocked():
    OpenAIBackend("http://127.0.0.1:9", "airoboros")

def test_block_escapes_except_exception():
    try:
        LocalModel("calls.log")
    except Exception:
        pass

def test_backend_built_before_the_test_cannot_complete():
    Router(tools, EARLY).route_many(["What's the weather in Paris?"])   # route_many keeps FuncRouteErrors

@pytest.mark.funcroute_real_backend
def test_marked_test_uses_a_real_backend():
    client = httpx.Client(transport=httpx.MockTransport(fake_server))
    with OpenAIBackend("http://127.0.0.1:9", "airoboros", client=client) as backend:
        result = Router(tools, backend).route("Weather in Rome?", dry_run=True)
        assert result.call.arguments == {"city": "Rome"}
    assert Router(tools, EARLY).route("What's the weather in Paris?").value == "sunny in Paris"

def test_fakes_and_declared_offline_backends_are_allowed():
    class Counting(FunctionBackend):
        pass

    @offline_backend
    class Canned(LocalModel):
        pass

    Counting(lambda r: "x").complete(Request("p"))
    assert Router(tools, Canned("calls.log")).route("What's the weather in Paris?").value == "sunny in Paris"
"""


def test_real_backends_are_blocked_unless_marked(project: pytest.Pytester) -> None:
    project.makepyfile(test_block=BLOCKED)
    result = run(project, "-q")
    result.assert_outcomes(passed=2, failed=3)
    result.stdout.fnmatch_lines(
        [
            "*funcroute blocked a real model backend: funcroute.backends.openai.OpenAIBackend was "
            "constructed in test_block.py::test_openai_backend_is_blocked.*"
            "@pytest.mark.funcroute_real_backend*",
        ]
    )
    out = result.stdout.str()
    assert "app.LocalModel was constructed in test_block.py::test_block_escapes_except_exception" in out
    assert "app.LocalModel was asked for a completion (complete) in test_block.py::test_backend_built" in out
    log = project.path / "calls.log"
    assert log.read_text().splitlines() == ["What's the weather in Paris?"] * 2  # only the allowed tests


@pytest.mark.parametrize(
    "switch", [["--funcroute-allow-real-backends"], ["-o", "funcroute_block_real_backends=false"]]
)
def test_the_block_can_be_switched_off(project: pytest.Pytester, switch: list[str]) -> None:
    project.makepyfile(test_block=BLOCKED)
    run(project, "-q", *switch).assert_outcomes(passed=5)


CHECKING = """
import pytest
from funcroute.backends.base import Backend, Completion, Request
from funcroute.testing import guard
from funcroute.testing.plugin import CHECKS_REQUESTS


class Checked(Backend):
    # A backend wired as funcroute's own are: it calls the guard itself, so nothing is wrapped.
    __funcroute_checks_requests__ = True
    name = "checked"

    def __init__(self):
        guard.check_allowed(self, "constructed")

    def complete(self, request: Request) -> Completion:
        guard.check_allowed(self, "asked for a completion (complete)")
        return Completion("{}")


EARLY = Checked()   # at import time: outside any test, the flag is on


def test_unmarked_test_runs_with_the_flag_off():
    assert guard.ALLOW_MODEL_REQUESTS is False
    assert "__new__" not in Backend.__dict__   # no constructor swap
    assert CHECKS_REQUESTS == "__funcroute_checks_requests__"

def test_checked_backend_is_blocked_without_a_wrapper():
    assert not hasattr(Checked.complete, "__funcroute_guarded__")
    assert not hasattr(Checked.__init__, "__funcroute_guarded__")
    try:
        EARLY.complete(Request("p"))
    except Exception:
        pass

@pytest.mark.funcroute_real_backend
def test_marked_test_runs_with_the_flag_on():
    assert guard.ALLOW_MODEL_REQUESTS is True
    assert EARLY.complete(Request("p")).text == "{}"
"""


def test_the_block_is_a_flag_that_backends_check(project: pytest.Pytester) -> None:
    project.makepyfile(test_checking=CHECKING)
    result = run(project, "-q")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(
        [
            "*funcroute blocked a real model backend: test_checking.Checked was asked for a completion "
            "(complete) in test_checking.py::test_checked_backend_is_blocked_without_a_wrapper.*",
        ]
    )


def test_the_guard_outside_pytest() -> None:
    from funcroute.backends.base import Backend, Completion, Request
    from funcroute.backends.scripted import ScriptedBackend
    from funcroute.errors import UsageError
    from funcroute.testing import guard

    class Real(Backend):
        name = "real"

        def complete(self, request: Request) -> Completion:
            return Completion("{}")

    real, fake = Real(), ScriptedBackend(["x"])
    assert guard.ALLOW_MODEL_REQUESTS is True  # this module is marked funcroute_real_backend
    guard.check_allowed(real)
    with guard.block_model_requests("the batch job"):
        assert guard.ALLOW_MODEL_REQUESTS is False
        with pytest.raises(UsageError, match=r"<locals>\.Real was constructed in the batch job"):
            guard.check_allowed(Real, "constructed")
        guard.check_allowed(fake)  # fakes always pass
        with guard.allow_model_requests():
            guard.check_allowed(real)
        with guard.model_requests(True):  # the innermost setting decides
            guard.check_allowed(real)
            with guard.block_model_requests(), pytest.raises(UsageError):
                guard.check_allowed(real)
        guard.permit(real)
        guard.check_allowed(real)
        with pytest.raises(UsageError):
            guard.check_allowed(Real())
    assert guard.ALLOW_MODEL_REQUESTS is True


# ----------------------------------------------------------------------------------------- cassettes

CASSETTE_TEST = """
import pytest
from app import LocalModel, tools
from funcroute.routing.router import Router
from funcroute.testing.assertions import assert_calls


@pytest.mark.funcroute_cassette("weather")
def test_weather(funcroute_cassette):
    backend = funcroute_cassette.backend(lambda: LocalModel("calls.log"))
    router = Router(tools, backend)
    result = router.route("What's the weather in Paris?", dry_run=True)
    assert_calls(result, tools, "get_weather", city="Paris")
    [result] = router.route_many(["How many times is 'Python' in notes.txt?"], dry_run=True)
    assert_calls(result, tools, "file_analytics", filters={"keyword": "Python"})
"""


def test_cassette_records_once_then_replays_and_names_a_changed_prompt(project: pytest.Pytester) -> None:
    project.makepyfile(test_cassette=CASSETTE_TEST)
    cassette = project.path / "cassettes" / "weather.yaml"
    log = project.path / "calls.log"

    missing = run(project, "-q")
    missing.assert_outcomes(failed=1)
    missing.stdout.fnmatch_lines(
        ["*cassette *weather.yaml does not exist. Record it once*--funcroute-record*"]
    )
    assert not cassette.exists()

    recorded = run(project, "-q", "--funcroute-record")
    recorded.assert_outcomes(passed=1)
    recorded.stdout.fnmatch_lines(["*- funcroute -*", "recorded cassette *weather.yaml"])
    assert len(log.read_text().splitlines()) == 2
    text = cassette.read_text(encoding="utf-8")
    assert (
        "  - prompt: |" in text or "- prompt: |" in text
    )  # prompts are readable blocks, not escaped strings
    assert "    Input: What's the weather in Paris?" in text
    rows = load_interactions(cassette)
    assert rows[0]["reply"] == '{"function": "get_weather", "params": {"city": "Paris"}}'
    assert rows[0]["prompt_tokens"] == 123 and rows[0]["finish_reason"] == "stop"
    assert rows[0]["prompt"].startswith("A chat between a curious user and an assistant.")

    replayed = run(project, "-q")
    replayed.assert_outcomes(passed=1)
    assert len(log.read_text().splitlines()) == 2  # the model was not asked again: not even constructed
    assert "recorded cassette" not in replayed.stdout.str()

    app = project.path / "app.py"
    app.write_text(
        app.read_text().replace("Get the current weather for a city.", "Get the weather for a city.")
    )
    changed = run(project, "-q", "--funcroute-record")  # "new" does not re-record an existing cassette
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        [
            "*cassette *weather.yaml has no reply recorded for this prompt.",
            "The prompt changed since recording: tool 'get_weather'.",
            "--- recorded prompt",
            "+++ prompt now",
            "*-  description: Get the current weather for a city.",
            "*+  description: Get the weather for a city.",
            "*--funcroute-record=all*",
        ]
    )
    assert len(log.read_text().splitlines()) == 2

    run(project, "-q", "--funcroute-record=all").assert_outcomes(passed=1)
    assert "Get the weather for a city." in cassette.read_text(encoding="utf-8")
    run(project, "-q").assert_outcomes(passed=1)


def test_cassette_env_var_and_default_name(project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    project.makepyfile(
        test_env="""
        from app import LocalModel, tools
        from funcroute.routing.router import Router

        def test_default_name(funcroute_cassette):
            assert funcroute_cassette.path.name == "test_env.test_default_name.yaml"
            backend = funcroute_cassette.backend(lambda: LocalModel("calls.log"))
            Router(tools, backend).route("What's the weather in Paris?")
        """
    )
    monkeypatch.setenv("FUNCROUTE_RECORD", "new")
    run(project, "-q").assert_outcomes(passed=1)
    monkeypatch.setenv("FUNCROUTE_RECORD", "none")
    run(project, "-q").assert_outcomes(passed=1)
    assert (project.path / "cassettes" / "test_env.test_default_name.yaml").exists()
    monkeypatch.setenv("FUNCROUTE_RECORD", "sometimes")
    result = run(project, "-q")  # refused before any test runs
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "FUNCROUTE_RECORD must be none, new or all, got 'sometimes'" in result.stderr.str()


def test_cassette_round_trips_awkward_text(tmp_path: Path) -> None:
    prompts = [
        "USER: line one\nline two with trailing spaces   \n\tindented\n\nASSISTANT:",
        "  leading spaces\nand a final newline\n",
        "quotes \" and ' and a colon: yes\r\nwindows line",
        "unicode: São Paulo, Zürich, 東京, emoji 🙂\n\n\n",
        "no newline at all",
    ]
    rows = [{"prompt": p, "reply": p[::-1], "finish_reason": "stop"} for p in prompts]
    path = tmp_path / "c.yaml"
    path.write_text(dump_interactions(rows, "local"), encoding="utf-8")
    assert load_interactions(path) == rows
    assert yaml.safe_load(path.read_text(encoding="utf-8"))["backend"] == "local"


def test_describe_change_names_the_parts_of_the_prompt() -> None:
    tools = ToolSet()

    @tools.tool
    def get_weather(city: str) -> str:
        """Get the current weather for a city."""
        return city

    @tools.tool
    def send_email(to: str, body: str) -> str:
        """Send an email."""
        return to

    old = tools.prompt("Weather in Paris?")
    assert describe_change(old, old.replace("Send an email.", "Send a short email.")) == "tool 'send_email'"
    assert describe_change(old, old.replace("Paris", "Rome")) == "the user input"
    assert describe_change(old, old.replace("JSON format", "YAML format")) == "the instructions"


# ----------------------------------------------------------------------------------------- snapshots


def test_prompt_snapshot_shows_a_changed_docstring_as_a_diff(project: pytest.Pytester) -> None:
    project.makepyfile(
        test_snap="""
        from app import tools

        def test_prompt(funcroute_snapshot):
            funcroute_snapshot.prompt(tools, "What's the weather in Paris?", name="weather")
            funcroute_snapshot.prompt(tools, template="airoboros-2", name="weather-chat")
        """
    )
    snapshot = project.path / "snapshots" / "weather.txt"
    run(project, "-q").stdout.fnmatch_lines(
        ["*snapshot *weather.txt does not exist*--funcroute-update-snapshots*"]
    )
    written = run(project, "-q", "--funcroute-update-snapshots")
    written.assert_outcomes(passed=1)
    written.stdout.fnmatch_lines(["wrote snapshot *weather.txt", "wrote snapshot *weather-chat.txt"])
    assert "Input: What's the weather in Paris?" in snapshot.read_text(encoding="utf-8")
    assert "USER: " in (project.path / "snapshots" / "weather-chat.txt").read_text(encoding="utf-8")
    run(project, "-q").assert_outcomes(passed=1)

    app = project.path / "app.py"
    app.write_text(app.read_text().replace("city: The city to look up.", "city: The city, e.g. Paris."))
    changed = run(project, "-q")
    changed.assert_outcomes(failed=1)
    changed.stdout.fnmatch_lines(
        [
            "*snapshot *weather.txt differs*",
            "*-    city: The city to look up.",
            "*+    city: The city, e.g. Paris.",
        ]
    )


# ------------------------------------------------------------------------- assertions, in-process


@pytest.fixture
def tools() -> ToolSet:
    toolset = ToolSet()

    @toolset.tool
    def get_weather(city: str, days: int = 1, metric: bool = True) -> str:
        """Get the weather forecast for a city."""
        return city

    @toolset.tool
    def get_time(zone: str) -> str:
        """Get the time in a time zone."""
        return zone

    return toolset


def test_matchers(tools: ToolSet) -> None:
    reply = '{"function": "get_weather", "params": {"city": "Paris", "days": 3}}'
    assert_calls(reply, tools, "get_weather", city=ANY, metric=ABSENT, days=one_of(2, 3))
    assert_calls(reply, tools, "get_weather", days=pytest.approx(3.0))
    with pytest.raises(AssertionError, match=r"days: expected one_of\(1, 2\), got 3"):
        assert_calls(reply, tools, "get_weather", days=one_of(1, 2))
    with pytest.raises(AssertionError, match=r"metric: expected ANY, got \(not given\)"):
        assert_calls(reply, tools, "get_weather", metric=ANY)
    with pytest.raises(AssertionError, match="city: expected ABSENT, got 'Paris'"):
        assert_calls(reply, tools, "get_weather", city=ABSENT)
    with pytest.raises(AssertionError, match="function: expected 'get_time', got 'get_weather'"):
        assert_calls(reply, tools, "get_time")
    bool_reply = '{"function": "get_weather", "params": {"city": "Paris", "days": 1, "metric": true}}'
    with pytest.raises(AssertionError, match="days: expected True, got 1"):
        assert_calls(bool_reply, tools, "get_weather", days=True)  # booleans never equal numbers
    with pytest.raises(ValueError, match="at least one value"):
        one_of()


def test_assertions_accept_route_results_calls_and_completions(tools: ToolSet) -> None:
    from funcroute.backends.scripted import ScriptedBackend
    from funcroute.routing.router import Router

    reply = '{"function": "get_time", "params": {"zone": "CET"}}'
    result = Router(tools, ScriptedBackend([reply])).route("time in Berlin", dry_run=True)
    for given in (result, result.call, Completion(reply), reply):
        assert assert_valid_call(given, tools).arguments == {"zone": "CET"}
    with pytest.raises(TypeError, match="expected a reply text"):
        assert_valid_call(42, tools)


def test_parallel_assertion_is_order_free(tools: ToolSet) -> None:
    reply = json.dumps(
        [
            {"function": "get_time", "params": {"zone": "CET"}},
            {"function": "get_weather", "params": {"city": "Paris"}},
            {"function": "get_weather", "params": {"city": "Rome"}},
        ]
    )
    expected = [("get_weather", {"city": "Rome"}), ("get_time", {}), ("get_weather", {"city": "Paris"})]
    assert len(assert_parallel_calls(reply, tools, expected)) == 3
    with pytest.raises(AssertionError, match="expected 2 calls, the reply holds 3"):
        assert_parallel_calls(reply, tools, expected[:2])
    wrong = [("get_weather", {"city": "Rome"}), ("get_time", {}), ("get_weather", {"city": "Oslo"})]
    with pytest.raises(AssertionError) as info:
        assert_parallel_calls(reply, tools, wrong)
    assert 'expected get_weather({"city": "Oslo"}) matches no call' in str(info.value)
    assert "city: expected 'Oslo', got 'Paris'" in str(info.value)


# ------------------------------------------------------------------------------------------ the demo


def test_demo_project_passes_its_own_tests(tmp_path: Path) -> None:
    demo = tmp_path / "plugin_example"
    shutil.copytree(REPO / "demos" / "plugin_example", demo, ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FUNCROUTE_", "PYTEST_"))}
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:hypothesispytest",
        *PLUGIN,
    ]
    done = subprocess.run(command, cwd=demo, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "failed" not in done.stdout
    assert not any(demo.rglob("*.tmp"))
