"""ScreenWatch: captures a monitor or region with mss at a few fps; emits changed 40x40 tiles."""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence

import numpy as np

from companion.core.events import Event, ScreenPatches, StreamState, StreamStatus
from companion.streams.screen_tiles import Rect, TileDiff, mask_regions
from companion.streams.x11_windows import X11Windows


def _open_mss():
    import mss

    # mss 10.2 renamed the factory to the class; older releases only have mss.mss()
    return mss.MSS() if hasattr(mss, "MSS") else mss.mss()


class ScreenWatch:
    """Captures in its own thread; frames live only in memory, only as long as the next diff needs.

    A source (consumes no events); whole frames go to the screen reader's `frame_sink`.

    `exclude_regions` are (x, y, w, h) in screen pixels and `exclude_titles` are case-insensitive
    parts of X11 window titles; both are blacked out in the pixels before a frame is compared or
    any tile leaves the capture. The first frame is only the reference for the next one unless
    `emit_first_frame` is set (then its non-black tiles are emitted, capped like any frame).
    At most `max_patches` tiles go out per frame: the most-changed ones; `dropped` counts the rest.
    """

    consumes = ()
    emits = (ScreenPatches, StreamState)

    def __init__(
        self,
        sink: Callable[[Event], None],
        *,
        monitor: int | None = None,
        region: Rect | None = None,
        fps: float = 2.0,
        exclude_regions: Sequence[Rect] = (),
        exclude_titles: Sequence[str] = (),
        max_patches: int = 64,
        emit_first_frame: bool = False,
        clock: Callable[[], float] = time.monotonic,
        open_grabber: Callable[[], object] = _open_mss,
        frame_sink: Callable[[float, np.ndarray, np.ndarray | None, tuple[int, int]], None]
        | None = None,
    ) -> None:
        if not 0 < fps <= 30:
            raise ValueError(f"ScreenWatch fps must be in (0, 30], got {fps}")
        if region is not None and (len(region) != 4 or region[2] <= 0 or region[3] <= 0):
            raise ValueError(
                f"ScreenWatch region must be (x, y, width, height) with positive size, got {region}"
            )
        if monitor is not None and monitor < 0:
            raise ValueError(
                f"ScreenWatch monitor index must be >= 0 (0 = all monitors), got {monitor}"
            )
        for rect in exclude_regions:
            if len(rect) != 4 or rect[2] < 0 or rect[3] < 0:
                raise ValueError(f"excluded region must be (x, y, width, height), got {rect}")
        self._sink, self._clock, self._open_grabber = sink, clock, open_grabber
        # the screen reader's tap: (t, masked BGRA frame, changed pixels per tile or None, the
        # area's screen origin); downstream only, called on the capture thread, must be quick
        self._frame_sink = frame_sink
        self.monitor, self.region, self.interval = monitor, region, 1.0 / fps
        self.exclude_regions = [tuple(int(v) for v in rect) for rect in exclude_regions]
        self.exclude_titles = [t for t in exclude_titles if t]
        self._diff = TileDiff(max_patches=max_patches, emit_first_frame=emit_first_frame)
        self._stop = threading.Event()
        self._paused = False
        self._thread: threading.Thread | None = None
        self._frame_times: deque[float] = deque(maxlen=10)
        self.frames = 0  # frames captured since start
        self.status: StreamStatus = "stopped"

    @property
    def fps(self) -> float:
        """Frames per second actually captured over the last few frames (for the status bar)."""
        times = self._frame_times
        if len(times) < 2 or times[-1] == times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def start(self) -> None:
        """Start capturing in a thread; no display is an `unavailable` StreamState, not an error."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="screenwatch", daemon=True)
        self._thread.start()

    def pause(self) -> None:
        """Stop capturing (nothing is grabbed while paused); resume emits what changed meanwhile."""
        self._paused = True
        self._frame_times.clear()
        if self.status == "live":
            self._state("paused")

    def resume(self) -> None:
        self._paused = False
        if self.status == "paused":
            self._state("live", "resumed")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.status not in ("unavailable", "stopped"):
            self._state("stopped")

    def _state(self, status: StreamStatus, reason: str = "") -> None:
        self.status = status
        self._sink(StreamState(t=self._clock(), stream="screen", status=status, reason=reason))

    def _run(self) -> None:
        if sys.platform.startswith("linux") and not os.environ.get("DISPLAY"):
            self._state("unavailable", "no display: DISPLAY is not set")
            return
        try:
            grabber = self._open_grabber()
        except Exception as exc:  # noqa: BLE001 - any capture backend failure means "no screen", not a crash
            where = f"DISPLAY={os.environ['DISPLAY']}: " if os.environ.get("DISPLAY") else ""
            self._state("unavailable", f"no display: {where}{exc}")
            return
        windows = None
        try:
            area = self._area(grabber)
            if self.exclude_titles:

                windows = X11Windows()
            self._state(
                "paused" if self._paused else "live",
                f"capturing {area['width']}x{area['height']} at {1 / self.interval:g} fps",
            )
            self._loop(grabber, area, windows)
        except Exception as exc:  # noqa: BLE001 - the display went away or refused a grab
            self._state("unavailable", f"screen capture failed: {exc}")
        finally:
            if windows is not None:
                windows.close()
            grabber.close()

    def _area(self, grabber) -> dict:
        if self.region is not None:
            x, y, w, h = self.region
            return {"left": x, "top": y, "width": w, "height": h}
        monitors = grabber.monitors
        if self.monitor is None:
            primary = next((m for m in monitors[1:] if m.get("is_primary")), None)
            return dict(primary or monitors[1 if len(monitors) > 1 else 0])
        if self.monitor >= len(monitors):
            raise ValueError(
                f"monitor {self.monitor} does not exist: this display has {len(monitors) - 1}"
            )
        return dict(monitors[self.monitor])

    def _loop(self, grabber, area: dict, windows) -> None:
        next_tick = self._clock()
        while not self._stop.is_set():
            if not self._paused:
                self._capture(grabber, area, windows)
            # a slow frame skips ticks instead of bursting to catch up
            next_tick = max(next_tick + self.interval, self._clock())
            self._stop.wait(max(0.0, next_tick - self._clock()))

    def _capture(self, grabber, area: dict, windows) -> None:
        hidden = list(self.exclude_regions)
        if windows is not None:
            hidden += windows.rects_matching(self.exclude_titles)
        shot = grabber.grab(area)
        t = self._clock()
        frame = np.frombuffer(shot.raw, dtype=np.uint8).reshape(shot.height, shot.width, 4)
        # excluded rectangles are in screen pixels; the frame starts at the area's corner
        mask_regions(frame, [(x - area["left"], y - area["top"], w, h) for x, y, w, h in hidden])
        self._frame_times.append(t)
        index = self.frames
        self.frames += 1
        changed = self._diff.step(frame)
        if self._frame_sink is not None:
            self._frame_sink(t, frame, self._diff.last_counts, (area["left"], area["top"]))
        if changed is not None:
            patches, dropped = changed
            self._sink(
                ScreenPatches(
                    t=t,
                    frame=index,
                    width=shot.width,
                    height=shot.height,
                    patches=patches,
                    dropped=dropped,
                )
            )
