"""The v2 generator's screen inputs are the live product's: a screen error is the real traceback
of really running the mutated code, read by the live ScreenReader; the generated `<|see|>error …`
line equals the live serialization of the event the live reader makes from the same terminal
text, and the oracle says a new one like a new test failure while a repeated one (the same error
read again) gets silence."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from companion.core.events import ScreenError
from companion.core.protocol import Chunk, serialize_chunk
from companion.streams.file_content import describe_change, read_content
from companion.streams.screen_summary import compose_summary
from companion.streams.screen_text import ScreenReader
from model_server.training.v2 import oracle
from model_server.training.v2.code_runs import load_projects
from model_server.training.v2.rules import RuleSet
from model_server.training.v2.screen_runs import ROOT_MARK, run_script, script_for
from model_server.training.v2.sessions import SessionSim


def _see_lines(text: str) -> list[str]:
    return [part.split("<|", 1)[0] for part in text.split("<|see|>")[1:]]


@pytest.fixture(scope="module")
def projects():
    return load_projects(split="train", limit=3)


def _failing(projects):
    for project in projects:
        for version in project.mutants:
            for failure in version.run.failures:
                script = script_for(project.name, project.test_source, failure.test_id)
                stderr = run_script(project.name, version.source, script)
                if stderr and "Traceback" in stderr:
                    return project, version, script, stderr
    # the first projects' mutants are fixed data: finding none means the generator broke
    pytest.fail("no failing mutant with a traceback among the first training projects")


def test_screen_error_is_the_real_traceback_read_by_the_live_reader(tmp_path, projects):
    project, version, script, stderr = _failing(projects)
    # the traceback is what really running the script prints
    (tmp_path / f"{project.name}.py").write_text(version.source)
    (tmp_path / f"try_{project.name}.py").write_text(script)
    (tmp_path / f"test_{project.name}.py").write_text(project.test_source)
    live_run = subprocess.run([sys.executable, f"try_{project.name}.py"], cwd=tmp_path, capture_output=True,
                              text=True, timeout=30, check=False)
    assert live_run.returncode and live_run.stderr.replace(str(tmp_path.resolve()), ROOT_MARK) == stderr

    sim = SessionSim(3, [project], 80)
    sim.next_episode = 10 ** 9  # only what the test schedules
    sim.rules = RuleSet()
    sim.save(5, project, version)
    sim.pending.clear()  # the on-save failure relay would play first; this test is about the screen
    text = f"$ python try_{project.name}.py\n{stderr.replace(ROOT_MARK, sim.screen.shown_root)}\n$ "
    sim.screen.schedule(12, text, sim.screen.terminal, 0.9)
    sim.screen.schedule(30, text, sim.screen.terminal, 0.9)  # the same error read again
    session = sim.run(features=False)
    generated = session.turns[12].chunk
    assert len(generated.screen_errors) == 1

    # the live reader over a real repository, the same FileChanged delivered, the same text read
    before = tmp_path / "before.py"
    before.write_text(project.clean.source)
    change = describe_change(sim.t(5), f"{project.name}.py", read_content(str(before)),
                             read_content(str(tmp_path / f"{project.name}.py")))
    before.unlink()
    events = []
    now = [0.0]
    reader = ScreenReader(events.append, tmp_path, mode="errors", titles=lambda x, y: sim.screen.terminal,
                          clock=lambda: now[0])
    reader.process(change)
    now[0] = sim.t(12)
    reader.read_text(text, 0.9, (0, 0, 1200, 600))
    errors = [e for e in events if isinstance(e, ScreenError)]
    assert errors == list(generated.screen_errors)
    live = serialize_chunk(Chunk(tick=generated.tick, t=generated.t, screen_errors=tuple(errors)),
                           features=False, protocol=2).text
    got = serialize_chunk(generated, features=False, protocol=2).text
    assert _see_lines(got) == _see_lines(live) and _see_lines(got)[0].startswith("error the script")

    # said like a new failure (two turns later, the user quiet); the repeat is not reported
    said = [(k, t.act) for k, t in enumerate(session.turns) if t.tag == "relay_screen"]
    assert said and said[0][0] == 14 and said[0][1].kind == "speech"
    assert said[0][1].text == oracle.screen_error_speech(errors[0])
    assert not session.turns[30].chunk.screen_errors and session.turns[30].act.kind == "silence"
    assert len(said) == 1


def test_screen_error_speech_fits_the_grammar_and_the_input():
    error = ScreenError(t=0.0, language="python", exception="TypeError",
                        message="'<' not supported between instances of 'str' and 'int'",
                        file="separate_paren_groups.py", line=12, function="separate_paren_groups",
                        in_repo=True)
    error = replace(error, summary=compose_summary(error.language, error.exception, error.message,
                                                   error.file, error.line, error.function, 3.0))
    said = oracle.screen_error_speech(error)
    assert said == "the script in your terminal raised TypeError"  # too long a name, a '<' in the message
    short = ScreenError(t=0.0, language="python", exception="KeyError", message="'user'", file="app.py",
                        line=4, function="load", in_repo=True,
                        summary=compose_summary("python", "KeyError", "'user'", "app.py", 4, "load"))
    assert oracle.screen_error_speech(short) == short.summary
