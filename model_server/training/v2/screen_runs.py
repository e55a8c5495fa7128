"""Screen reading for training: real tracebacks of really run code, read by the live ScreenReader.

The simulated developer runs a failing test's body as a script in a terminal (`python
try_<entry>.py`, the test's setup and assert at top level) against the project's current,
mutated, version. The script is really run in a subprocess (cached by content, like the test
runs) and its real stderr, the traceback, is what the terminal shows, under the command line and
above the next prompt; the directory it ran in is shown as the developer's project directory.
Editor views are the project's real source around a function under the editor's window title.
Light OCR noise is optional (curly quotes, doubled spaces, an underscore read as a space).

Each read goes through the product's own code: `companion.streams.screen_text.ScreenReader.
read_text` (mode "errors", as the live default) with a real repository directory holding the
session's files, FileChanged events recorded as the live hub delivers them, and the session's
clock. So the `ScreenError` (parsed by `screen_errors.find_errors`, located by
`screen_summary.pick_frame`, summarized by `compose_summary`, deduplicated for 10 minutes) and the
`ScreenText` context lines (`screen_context.context_line`, at most every 3 s, only when changed)
are exactly the live events, and `serialize_chunk` writes them as the live `<|see|>` lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from companion.core.events import Event, FileChanged, ScreenError, ScreenText
from companion.streams.screen_text import ScreenReader
from model_server.training.v2.code_runs import CACHE, code_version

SCREEN_CODE = ("model_server.training.v2.screen_runs",)
TIMEOUT_S = 6.0
ROOT_MARK = "{ROOT}"
# where the developer's project lives, as a traceback shows it
SHOWN_ROOTS = ("/home/dev/code", "/home/dev/src/kata", "/Users/sam/projects/practice", "/srv/work/repo")
TERMINAL_TITLES = ("Terminal", "bash", "dev@laptop: ~/code", "zsh — 120×40", "Konsole")
EDITOR_TITLES = ("{file} - Visual Studio Code", "vim {file}", "{file} (~/code) - gedit", "{file} — Kate",
                 "emacs: {file}")


def test_body(test_source: str, test_id: str) -> str | None:
    """The body of test `test_id` (`test_x.py::test_x_3`) as top-level script code."""
    name = test_id.rsplit("::", 1)[-1]
    lines = test_source.splitlines()
    try:
        start = lines.index(f"def {name}():") + 1
    except ValueError:
        return None
    body = []
    for line in lines[start:]:
        if line and not line.startswith("    "):
            break
        body.append(line[4:])
    return "\n".join(body).strip() + "\n"


def script_for(module: str, test_source: str, test_id: str) -> str | None:
    body = test_body(test_source, test_id)
    return None if body is None else f"from {module} import {module}\n\n{body}"


def run_script(module: str, source: str, script: str, cache: Path = CACHE) -> str | None:
    """The real stderr of `python try_<module>.py` next to `<module>.py` (the working directory
    replaced by ROOT_MARK), or None when it exits cleanly or runs past the timeout; cached."""
    key = hashlib.sha256(f"{code_version(SCREEN_CODE)}\0{sys.version}\0{module}\0{source}\0{script}"
                         .encode()).hexdigest()[:24]
    path = cache / "screen" / f"{key}.json"
    if path.is_file():
        return json.loads(path.read_text())["stderr"]
    root = cache / "work" / f"screen-{key}-{os.getpid()}"
    root.mkdir(parents=True, exist_ok=True)
    try:
        (root / f"{module}.py").write_text(source)
        (root / f"try_{module}.py").write_text(script)
        try:
            done = subprocess.run([sys.executable, f"try_{module}.py"], cwd=root, capture_output=True, check=False,
                                  text=True, timeout=TIMEOUT_S,
                                  env={"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"})
            stderr = done.stderr.replace(str(root.resolve()), ROOT_MARK).replace(str(root), ROOT_MARK) \
                if done.returncode else None
        except subprocess.TimeoutExpired:
            stderr = None
    finally:
        shutil.rmtree(root, ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"stderr": stderr}))
    tmp.replace(path)
    return stderr


def ocr_noise(text: str, rng) -> str:
    """What OCR sometimes does to terminal text: curly quotes, doubled spaces, `_` read as ` `."""
    roll = rng.random()
    if roll < 0.5:
        return text
    if roll < 0.75:
        text = re.sub(r'"([^"\n]*)"', "\u201c\\1\u201d", text)
    if rng.random() < 0.3:
        text = text.replace(", line", ",  line")
    if rng.random() < 0.1:
        words = re.findall(r"\b\w+_\w+\b", text)
        if words:
            word = rng.choice(words)
            text = text.replace(word, word.replace("_", " ", 1), 1)
    return text


def terminal_text(module: str, stderr: str, shown_root: str, rng) -> str:
    """The settled terminal region: the command, its traceback, the next prompt."""
    prompt = rng.choice(("$ ", f"{shown_root.rsplit('/', 1)[-1]} $ ", "> "))
    shown = stderr.replace(ROOT_MARK, shown_root)
    return ocr_noise(f"{prompt}python try_{module}.py\n{shown.rstrip()}\n{prompt}", rng)


def editor_view(source: str, rng, lines: int = 14) -> str:
    """The part of a file an editor shows, scrolled to a random line (indentation kept)."""
    rows = source.splitlines()
    top = rng.randrange(max(1, len(rows) - lines + 1))
    return "\n".join(rows[top:top + lines])


class SessionScreen:
    """A session's screen reading: the live ScreenReader fed the session's reads in time order."""

    def __init__(self, sim, repo_dir: Path | None = None):
        self.sim = sim
        names = sorted(p.name for p in sim.projects)
        self.repo = repo_dir or CACHE / "screen-repos" / "+".join(names)
        self.repo.mkdir(parents=True, exist_ok=True)
        for name in names:  # repo_path() resolves a shown file by what exists in the repository
            for file in (f"{name}.py", f"test_{name}.py", f"try_{name}.py"):
                if not (self.repo / file).is_file():
                    (self.repo / file).write_text("")
        self.shown_root = sim.rng.choice(SHOWN_ROOTS)
        self.terminal = sim.rng.choice(TERMINAL_TITLES)
        self.now = 0.0
        self.window = ""
        self.events: dict[int, list[Event]] = defaultdict(list)
        self._tick = 0
        self.reader = ScreenReader(self._sink, self.repo, mode="errors", titles=lambda x, y: self.window,
                                   clock=lambda: self.now)
        self.reads: dict[int, list[tuple[str, str, float]]] = defaultdict(list)

    def _sink(self, event: Event) -> None:
        if isinstance(event, (ScreenText, ScreenError)):
            self.events[self._tick].append(event)

    def on_event(self, event: Event) -> None:
        """The hub's delivery of a FileChanged (the reader remembers which lines changed)."""
        if isinstance(event, FileChanged):
            self.reader.process(event)

    def schedule(self, tick: int, text: str, window: str, confidence: float) -> None:
        self.reads[tick].append((text, window, confidence))

    def read(self, tick: int, t: float) -> list[Event]:
        """Tick `tick`'s screen events: the reads that settle and are OCR'd in it."""
        self._tick, self.now = tick, t
        for text, window, confidence in self.reads.pop(tick, ()):
            self.window = window
            self.reader.read_text(text, confidence, (0, 0, 1200, 600))
        return self.events.pop(tick, [])

    def editor_title(self, file: str) -> str:
        return self.sim.rng.choice(EDITOR_TITLES).format(file=file)
