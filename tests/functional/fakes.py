"""A recording stand-in for the runtime (CompanionControls) that tests drive, threads included."""

from __future__ import annotations

import threading
import time

import numpy as np

from companion.core.events import (
    AudioBlock,
    Event,
    FileChanged,
    GateState,
    Patch,
    ScreenPatches,
)
from companion.rules.gates import SpeechGate


class FakeControls:
    """Records every command; `emit` delivers events like the runtime does, from any thread.
    Its `gate` stands for the runtime's speech gate: a snooze emits the GateState it leads to."""

    def __init__(self, gate: SpeechGate | None = None) -> None:
        self.gate = gate or SpeechGate()
        self.calls: list[tuple] = []
        self.sinks: list = []
        self._halt = threading.Event()
        self.threads: list[threading.Thread] = []

    def subscribe(self, sink) -> None:
        self.sinks.append(sink)

    def emit(self, event: Event) -> None:
        for sink in self.sinks:
            sink(event)

    async def start(self) -> None:
        self.calls.append(("start",))

    async def stop(self) -> None:
        self.calls.append(("stop",))
        self._halt.set()
        for thread in self.threads:
            thread.join(timeout=5)

    def set_mic_muted(self, muted: bool) -> None:
        self.calls.append(("set_mic_muted", muted))

    def set_screen_paused(self, paused: bool) -> None:
        self.calls.append(("set_screen_paused", paused))

    def snooze(self, minutes: float | None) -> None:
        self.calls.append(("snooze", minutes))
        self.gate.snooze(minutes)
        self.emit_gate()

    def emit_gate(self) -> None:
        gate = self.gate
        self.emit(GateState(time.monotonic(), gate.status(), gate.snoozed, gate.gates.snooze))

    def stop_speaking(self) -> None:
        self.calls.append(("stop_speaking",))

    def send_text(self, text: str) -> None:
        self.calls.append(("send_text", text))

    def confirm(self, job_id: str, approve: bool) -> None:
        self.calls.append(("confirm", job_id, approve))

    def cancel_job(self, job_id: str) -> None:
        self.calls.append(("cancel_job", job_id))

    def explain(self, test: str = "") -> None:
        self.calls.append(("explain", test))

    def run_streams(self, audio_hz: float = 200.0) -> None:
        """Emit audio blocks, screen frames and file changes from three threads until stop()."""
        samples = np.zeros(3200, dtype=np.float32)
        dmel = np.zeros((16, 80), dtype=np.uint8)
        tile = np.zeros((40, 40, 3), dtype=np.uint8)

        def audio() -> None:
            while not self._halt.wait(1 / audio_hz):
                self.emit(AudioBlock(time.monotonic(), samples, -20.0, dmel))

        def screen() -> None:
            frame = 0
            while not self._halt.wait(0.01):
                frame += 1
                self.emit(ScreenPatches(time.monotonic(), frame, 1920, 1080, (Patch(0, 0, tile),)))

        def files() -> None:
            n = 0
            while not self._halt.wait(0.02):
                n += 1
                self.emit(FileChanged(time.monotonic(), f"src/m{n % 7}.py", "modified", "+x\n"))

        for target in (audio, screen, files):
            thread = threading.Thread(target=target, daemon=True, name=f"fake-{target.__name__}")
            self.threads.append(thread)
            thread.start()
