"""Shared test configuration: the headless-environment marker and small fixtures."""

from __future__ import annotations

import os
import subprocess

import pytest


def _headless_env_ready() -> bool:
    if not os.environ.get("DISPLAY") or not os.environ.get("PULSE_SERVER"):
        return False
    return subprocess.run(["pactl", "info"], capture_output=True).returncode == 0


def pytest_collection_modifyitems(config, items):
    """Tests marked `headless` need Xvfb + PulseAudio (scripts/test.sh starts them).

    Outside that environment they are skipped with the reason, except under CI, where a
    missing environment is an error: CI must run every real-device test.
    """
    if _headless_env_ready():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(
            "CI=true but the headless environment is missing: run tests through scripts/test.sh"
        )
    skip = pytest.mark.skip(reason="needs the headless environment (scripts/test.sh)")
    for item in items:
        if "headless" in item.keywords:
            item.add_marker(skip)
