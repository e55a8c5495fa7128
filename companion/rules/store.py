"""The rules file: `.companion.toml` merged over the user file, hot reload, init and check."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pathspec
import platformdirs

from companion.core.events import RulesChanged
from companion.rules import themes
from companion.rules.config_errors import ConfigError, read_toml, unusable_file
from companion.rules.prefix_budget import prefix_budget_line, prefix_budget_problems
from companion.rules.schema import Gates, Rules, build, check
from companion.rules.template import DEFAULT_RULES_FILE

REPO_FILE = ".companion.toml"
USER_FILE = "rules.toml"
SETTLE_S = 0.05  # a changed file must read the same twice this far apart before it is loaded
# A file that became empty is most likely mid-write (truncated, not yet written): it must stay
# empty this long before it counts, or the defaults would replace the last good rules.
EMPTY_SETTLE_S = 0.5
log = logging.getLogger(__name__)
_SCOPE_ORDER = {"none": 0, "affected": 1, "all": 2}


def config_dir() -> Path:
    """The user's config folder; COMPANION_CONFIG_DIR overrides it (tests, portable setups)."""
    override = os.environ.get("COMPANION_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir("companion"))


def load_rules(files: list[Path], theme_names: tuple[str, ...] | None = None) -> Rules:
    """Merge the files that exist, later over earlier; raise ConfigError listing every problem.

    The one validation path: `companion rules check` and the running companion (start-up and
    hot reload) both call this, so what the check accepts is exactly what the companion runs.
    """
    names = theme_names if theme_names is not None else themes.load_themes(config_dir()).names()
    layers, problems = [], []
    for path in files:
        if unusable_file(path) is None and not path.is_file():
            continue  # absent: the defaults (or the other file) apply
        try:
            doc, source = read_toml(path)
        except ConfigError as error:
            problems.extend(error.problems)
            continue
        parsed, found = check(doc, source, str(path), names)
        problems.extend(found)
        layers.append((str(path), parsed))
    if problems:
        raise ConfigError(problems)
    rules = build(layers)
    problems = prefix_budget_problems(rules, [str(p) for p in files])
    if problems:
        raise ConfigError(problems)
    return rules


@dataclass(frozen=True, slots=True)
class OnSaveAction:
    """What to run for one saved file: the broadest test scope and every linter that matches."""

    tests: str = "none"
    lint: tuple[str, ...] = ()


def on_save_action(rules: Rules, path: str) -> OnSaveAction:
    """The agent's on-save trigger for `path` (relative, POSIX) under these rules."""
    tests, lint = "none", []
    for trigger in rules.on_save:
        if pathspec.PathSpec.from_lines("gitignore", trigger.paths).match_file(path):
            tests = max(tests, trigger.tests, key=_SCOPE_ORDER.__getitem__)
            lint.extend(tool for tool in trigger.lint if tool not in lint)
    return OnSaveAction(tests, tuple(lint))


def _duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{seconds / 3600:g}h"
    return f"{seconds / 60:g}m" if seconds >= 60 and seconds % 60 == 0 else f"{seconds:g}s"


def gates_text(gates: Gates) -> str:
    """The gates in one sentence each, for the model and for the rules panel."""
    lines = [f"The same rule at most once per {_duration(gates.cooldown)}."]
    if gates.max_per_10min is not None:
        lines.append(f"At most {gates.max_per_10min} interjections in any 10 minutes.")
    if gates.never_while_user_speaks:
        lines.append("Never start talking while the user is speaking.")
    if gates.min_severity != "info":
        lines.append(f"Only say things of severity {gates.min_severity} or higher.")
    if gates.quiet_hours:
        lines.append("Quiet hours (say nothing): " + ", ".join(map(str, gates.quiet_hours)) + ".")
    return "\n".join(lines)


def rules_prompt_text(rules: Rules) -> str:
    """The user's rules and the gates as plain text for the model's pinned prefix."""
    lines = ["The user's rules:"]
    for rule in rules.rules:
        where = f" (only for {', '.join(rule.paths)})" if rule.paths else ""
        lines.append(f"- {rule.name} [{rule.severity}]: {rule.text.strip()}{where}")
    if not rules.rules:
        lines.append("- (none: speak only about clear mistakes and failing tests)")
    return "\n".join(lines) + "\n" + gates_text(rules.gates)


def describe(rules: Rules) -> str:
    """The effective merged rules as a readable listing (`companion rules check`)."""
    out = ["sources: " + (", ".join(rules.sources) or "(none: built-in defaults)"), ""]
    for rule in rules.rules:
        out.append(f"rule {rule.name!r} [{rule.severity}] from {rule.source}: {rule.text.strip()}")
        if rule.paths:
            out.append(f"    paths: {', '.join(rule.paths)}")
    for trigger in rules.on_save:
        out.append(f"on save of {', '.join(trigger.paths)}: tests {trigger.tests}, "
                   f"lint {', '.join(trigger.lint) or 'none'}  ({trigger.source})")
    out += ["", gates_text(rules.gates)]
    for name in ("tests", "screen", "voice", "model", "ui"):
        section = getattr(rules, name)
        values = ", ".join(f"{key}={getattr(section, key)!r}"
                           for key in section.__dataclass_fields__)
        out.append(f"[{name}] {values}")
    return "\n".join(out)


def init_command(path: Path | str = REPO_FILE) -> int:
    """`companion init`: write the commented default rules file; never overwrite one."""
    target = Path(path)
    if target.exists():
        print(f"{target} already exists; not overwriting it (check it with: companion rules check)")
        return 1
    target.write_text(DEFAULT_RULES_FILE, encoding="utf-8")
    print(f"wrote {target}: edit it, then run: companion rules check")
    return 0


def check_command(path: Path | str | None = None) -> int:
    """`companion rules check [FILE]`: 0 valid (prints merged rules), 1 invalid, 2 no such file."""
    repo_file = Path(path) if path is not None else Path(REPO_FILE)
    if path is not None and unusable_file(repo_file) is None and not repo_file.is_file():
        print(f"{repo_file}: no such file")
        return 2
    try:
        rules = load_rules([config_dir() / USER_FILE, repo_file])
    except ConfigError as error:
        print(error)
        return 1
    print(describe(rules))
    print(prefix_budget_line(rules))
    return 0


class RulesStore:
    """The current rules, reloaded when a file changes; a broken file keeps the last good ones.

    A daemon thread reads the (small) files every `poll_s` seconds and compares contents: cheap,
    it sees editors' atomic renames that a watch on one inode misses, and coarse mtimes don't
    hide a second write.
    """

    def __init__(self, repo_dir: Path | str = ".", user_dir: Path | None = None,
                 poll_s: float = 0.5, clock: Callable[[], float] = time.monotonic) -> None:
        self.config_dir = user_dir or config_dir()
        self.files = [self.config_dir / USER_FILE, Path(repo_dir) / REPO_FILE]
        self.rules = Rules()
        self.error = ""
        self._poll_s, self._clock = poll_s, clock
        self._sinks: list[Callable[[RulesChanged], None]] = []
        self._seen = self._contents()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None
        self.reload()

    def _contents(self) -> tuple[bytes | str | None, ...]:
        # Contents, not mtimes: a truncate and a write can share one coarse mtime tick.
        # A path that is not a regular file is never opened (a FIFO would block this thread).
        out: list[bytes | str | None] = []
        for path in self.files:
            why = unusable_file(path)
            if why is not None:
                out.append(why)
                continue
            try:
                out.append(path.read_bytes())
            except OSError:
                out.append(None)
        return tuple(out)

    def subscribe(self, sink: Callable[[RulesChanged], None]) -> None:
        self._sinks.append(sink)

    def reload(self) -> RulesChanged:
        """Load the files now; on an error keep the previous rules and report the error."""
        try:
            names = themes.load_themes(self.config_dir).names()
            self.rules, self.error = load_rules(self.files, names), ""
        except ConfigError as error:
            self.error = str(error)
        except Exception as error:  # a bug of ours must not take the last good rules with it
            log.exception("loading the rules failed")
            self.error = f"{self.files[-1]}: could not load the rules ({type(error).__name__}: "\
                         f"{error}); keeping the last good rules"
        existing = [str(p) for p in self.files if p.is_file()]
        event = RulesChanged(self._clock(), ", ".join(existing) or "(defaults)", self.error)
        for sink in list(self._sinks):
            try:
                sink(event)
            except Exception:  # one broken subscriber must not stop the others or the watch
                log.exception("a rules subscriber failed")
        return event

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._watch, name="rules-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None

    def _watch(self) -> None:
        """Poll until stopped; nothing a file contains can end this loop."""
        while not self._halt.wait(self._poll_s):
            try:
                self._poll_once()
            except Exception:
                log.exception("rules watch: one poll failed; watching on")

    def _poll_once(self) -> None:
        current = self._contents()
        if current == self._seen:
            return
        # An editor may still be writing: wait until two reads agree, then load.
        emptied = any(now == b"" and before not in (b"", None)
                      for now, before in zip(current, self._seen))
        while not self._halt.wait(EMPTY_SETTLE_S if emptied else SETTLE_S):
            settled = self._contents()
            if settled == current:
                break
            current = settled
            emptied = False
        self._seen = current
        self.reload()
