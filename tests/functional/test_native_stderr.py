"""C code writing to fd 2 while a Textual TUI runs in a real pty: the log gets it, the terminal
does not; Python's stderr and logging still reach the terminal; underruns are counted."""

from __future__ import annotations

import fcntl
import os
import select
import struct
import subprocess
import sys
import termios
import textwrap
import time
from pathlib import Path

from companion.core.events import AudioUnderruns, StreamState
from companion.tui.widgets.status_bar import StatusBar, StatusModel

ALSA_UNDERRUN = "ALSA lib pcm.c:8570:(snd_pcm_recover) underrun occurred"
ALSA_SLAVE = "ALSA lib pcm_dmix.c:1032:(snd_pcm_dmix_open) unable to open slave"

PROBE = textwrap.dedent(f'''
    import ctypes, logging, sys
    from pathlib import Path
    from textual.app import App
    from textual.widgets import Static
    from companion.native_stderr import NativeStderr

    logging.basicConfig(level=logging.INFO, format="PYLOG %(message)s")  # a handler on stderr
    libc = ctypes.CDLL(None)
    c_stderr = ctypes.c_void_p.in_dll(libc, "stderr")

    class Probe(App):
        def compose(self):
            yield Static("TUI-IS-DRAWN")

        def on_mount(self):
            self.set_timer(0.8, self.noise)

        def noise(self):
            line = b"{ALSA_UNDERRUN}\\n"
            libc.write(2, line, len(line))  # what ALSA's audio thread does
            libc.fputs(b"{ALSA_SLAVE}\\n", c_stderr)  # fprintf(stderr, ...)
            libc.fflush(c_stderr)
            logging.info("during-tui")
            self.set_timer(0.8, self.exit)

    counts = []
    with NativeStderr(log_path=Path(sys.argv[1]), on_xruns=counts.append):
        Probe().run()
    logging.info("after-tui")
    print("XRUNS", counts[-1] if counts else 0, file=sys.stderr)
''')


def run_in_pty(args: list[str], cwd: Path, timeout: float = 60.0) -> str:
    """Run with stdin, stdout and stderr on one pty (as a terminal does); return all it printed."""
    controller, terminal = os.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "PYTHONPATH": str(cwd)}
    process = subprocess.Popen(args, stdin=terminal, stdout=terminal, stderr=terminal, cwd=cwd,
                               env=env, close_fds=True)
    os.close(terminal)
    output = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([controller], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(controller, 65536)
                except OSError:  # EIO: every writer has closed the pty
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
    finally:
        process.kill() if process.poll() is None else None
        process.wait()
        os.close(controller)
    return output.decode("utf-8", "replace")


def test_native_writes_to_fd2_during_the_tui_go_to_the_log_not_the_terminal(tmp_path):
    script = tmp_path / "probe.py"
    script.write_text(PROBE)
    log = tmp_path / "logs" / "native.log"
    root = Path(__file__).resolve().parents[2]
    seen = run_in_pty([sys.executable, str(script), str(log)], cwd=root)
    assert "TUI-IS-DRAWN" in seen  # Textual still draws on the terminal
    assert ALSA_UNDERRUN not in seen and "unable to open slave" not in seen
    assert "PYLOG during-tui" in seen and "PYLOG after-tui" in seen  # Python's logging unchanged
    assert "XRUNS 1" in seen
    logged = log.read_text()
    assert ALSA_UNDERRUN in logged and ALSA_SLAVE in logged


async def test_status_bar_counts_underruns_instead_of_printing_them():
    from textual.app import App

    model = StatusModel()

    class Bar(App):
        def compose(self):
            yield StatusBar(model)

    async with Bar().run_test(size=(160, 3)) as pilot:
        bar = pilot.app.query_one(StatusBar)
        model.streams["audio"] = StreamState(0.0, "audio", "live")
        bar.redraw()
        assert "xruns" not in str(bar.render())  # nothing shown while there are none
        for event in (AudioUnderruns(1.0, "native", 3), AudioUnderruns(1.1, "speaker", 2)):
            model.xruns[event.source] = event.total
        bar.redraw()
        assert "xruns 3" in str(bar.render())
