"""The app with a real RulesStore and themes: hot reload, broken files, theme choice, fallback."""

from __future__ import annotations

import asyncio

import pytest

from companion.rules.store import RulesStore
from companion.tui.app import CompanionApp
from companion.tui.widgets.rules_panel import RulesPanel
from tests.functional.fakes import FakeControls

GOOD_THEME = 'name = "paper"\ndark = false\nprimary = "#005f87"\nbackground = "#fdf6e3"\n'


@pytest.fixture
def config(tmp_path, monkeypatch):
    path = tmp_path / "config"
    (path / "themes").mkdir(parents=True)
    monkeypatch.setenv("COMPANION_CONFIG_DIR", str(path))
    return path


async def wait_for(pilot, condition, timeout: float = 2.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:
        await pilot.pause(0.05)
    assert condition()


async def test_rules_hot_reload_and_invalid_file_keeps_last_good(tmp_path, config):
    repo = tmp_path / "repo"
    repo.mkdir()
    rules_file = repo / ".companion.toml"
    rules_file.write_text('[[rule]]\nname = "obo"\ntext = "Catch off-by-one errors."\n')
    store = RulesStore(repo, poll_s=0.05)
    controls = FakeControls()
    store.subscribe(controls.emit)  # as the runtime forwards its store's reloads
    app = CompanionApp(controls, store)
    async with app.run_test(size=(160, 48)) as pilot:
        await pilot.pause()
        panel = app.main_screen.query_one(RulesPanel)
        assert "obo" in str(panel.body.render()) and ".companion.toml" in str(panel.body.render())
        rules_file.write_text('[[rule]]\nname = "tests"\ntext = "Say when tests fail."\n'
                              '[ui]\ntheme = "companion-contrast"\n')
        await wait_for(pilot, lambda: "tests" in str(panel.body.render()), 5.0)
        assert app.theme == "companion-contrast"
        assert any("rules loaded from" in e.text for e in app.main_screen.conversation.history)
        rules_file.write_text('[gates]\ncooldown = "2 minutes"\n')
        await wait_for(pilot, lambda: "rules file invalid" in str(panel.body.render()), 5.0)
        text = str(panel.body.render())
        assert f'{rules_file}:2: gates.cooldown: bad duration "2 minutes"' in text
        assert "tests" in text  # the previous rules stay
        last = app.main_screen.conversation.history[-1]
        assert last.kind == "error" and "bad duration" in last.text
        await pilot.press("ctrl+q")
    assert store._thread is None


async def test_theme_argument_beats_rules_file_and_unknown_theme_falls_back(tmp_path, config):
    (tmp_path / ".companion.toml").write_text('[ui]\ntheme = "companion-light"\n')
    app = CompanionApp(None, RulesStore(tmp_path), theme=None)
    assert app.theme == "companion-light"
    app = CompanionApp(None, RulesStore(tmp_path), theme="companion-contrast")
    assert app.theme == "companion-contrast"
    app = CompanionApp(None, RulesStore(tmp_path), theme="companion-drak")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "companion-dark"
        errors = [e.text for e in app.main_screen.conversation.history if e.kind == "error"]
        assert errors == ['unknown theme "companion-drak"; did you mean "companion-dark"?; '
                          "using companion-dark"]


async def test_user_themes_load_and_a_broken_one_is_reported(config):
    (config / "themes" / "paper.toml").write_text(GOOD_THEME)
    broken = config / "themes" / "broken.toml"
    broken.write_text('name = "broken"\nprimary = "#12345"\nbackgrund = "#000000"\n')
    app = CompanionApp(None, theme="paper")
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "paper"
        errors = [e.text for e in app.main_screen.conversation.history if e.kind == "error"]
        assert len(errors) == 1
        assert f'{broken}:2: primary: "#12345" is not a colour' in errors[0]
        assert f'{broken}:3: backgrund: unknown key; did you mean "background"?' in errors[0]
        await pilot.press("ctrl+t")
        assert app.theme == "companion-contrast"  # cycling starts over our own themes


async def test_command_palette_offers_every_companion_command(config):
    app = CompanionApp(FakeControls())
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        titles = {command.title for command in app.get_system_commands(app.screen)}
        for title in ("Microphone: mute or unmute", "Screen: pause or resume",
                      "Snooze interjections 15 minutes", "Snooze until resumed", "Stop speaking",
                      "Confirm pending action", "Deny pending action", "Toggle jobs panel",
                      "Toggle rules panel", "Theme", "Quit"):
            assert title in titles, title


async def test_invalid_rules_at_startup_are_reported_in_the_conversation(tmp_path, config):
    (tmp_path / ".companion.toml").write_text('[voice]\nrate = "fast"\n')
    app = CompanionApp(None, RulesStore(tmp_path))
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        first = [e for e in app.main_screen.conversation.history if e.kind == "error"][0]
        assert first.text.startswith("rules file invalid; built-in defaults in use:\n")
        assert 'voice.rate: expected an integer, got a string "fast"' in first.text


async def test_command_palette_runs_a_companion_command(config):
    controls = FakeControls()
    app = CompanionApp(controls)
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"snooze until resumed")
        await wait_for(pilot, lambda: "Snooze until resumed" in str(
            [str(o.prompt) for o in app.screen.query("CommandList").first().options]
            if app.screen.query("CommandList") else ""))
        await pilot.press("enter")
        await wait_for(pilot, lambda: ("snooze", None) in controls.calls)
