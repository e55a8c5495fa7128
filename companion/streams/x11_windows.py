"""Screen rectangles of X11 windows found by title (Xlib via ctypes), for ScreenWatch to mask."""

from __future__ import annotations

import ctypes
import ctypes.util
from collections.abc import Iterator, Sequence

Window = ctypes.c_ulong
_IS_VIEWABLE = 2
_MAX_DEPTH = 4  # root -> window-manager frame -> client -> its own subwindows


class _XWindowAttributes(ctypes.Structure):
    _fields_ = [
        ("x", ctypes.c_int),
        ("y", ctypes.c_int),
        ("width", ctypes.c_int),
        ("height", ctypes.c_int),
        ("border_width", ctypes.c_int),
        ("depth", ctypes.c_int),
        ("visual", ctypes.c_void_p),
        ("root", Window),
        ("class_", ctypes.c_int),
        ("bit_gravity", ctypes.c_int),
        ("win_gravity", ctypes.c_int),
        ("backing_store", ctypes.c_int),
        ("backing_planes", ctypes.c_ulong),
        ("backing_pixel", ctypes.c_ulong),
        ("save_under", ctypes.c_int),
        ("colormap", ctypes.c_ulong),
        ("map_installed", ctypes.c_int),
        ("map_state", ctypes.c_int),
        ("all_event_masks", ctypes.c_long),
        ("your_event_mask", ctypes.c_long),
        ("do_not_propagate_mask", ctypes.c_long),
        ("override_redirect", ctypes.c_int),
        ("screen", ctypes.c_void_p),
    ]


_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
# A window can vanish between listing and asking about it; Xlib's default handler would then exit
# the process, so errors are ignored (the vanished window simply is not on screen any more).
_ignore_errors = _ERROR_HANDLER(lambda display, event: 0)


def _load_xlib() -> ctypes.CDLL:
    name = ctypes.util.find_library("X11")
    if name is None:
        raise OSError("libX11 not found: window-title exclusion needs it (apt install libx11-6)")
    xlib = ctypes.CDLL(name)
    xlib.XOpenDisplay.restype = ctypes.c_void_p
    xlib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    xlib.XDefaultRootWindow.restype = Window
    xlib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    xlib.XQueryTree.argtypes = [
        ctypes.c_void_p,
        Window,
        ctypes.POINTER(Window),
        ctypes.POINTER(Window),
        ctypes.POINTER(ctypes.POINTER(Window)),
        ctypes.POINTER(ctypes.c_uint),
    ]
    xlib.XGetWindowAttributes.argtypes = [
        ctypes.c_void_p,
        Window,
        ctypes.POINTER(_XWindowAttributes),
    ]
    xlib.XFetchName.argtypes = [ctypes.c_void_p, Window, ctypes.POINTER(ctypes.c_char_p)]
    xlib.XTranslateCoordinates.argtypes = [
        ctypes.c_void_p,
        Window,
        Window,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(Window),
    ]
    xlib.XFree.argtypes = [ctypes.c_void_p]
    xlib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    xlib.XSetErrorHandler.argtypes = [_ERROR_HANDLER]
    xlib.XSetErrorHandler.restype = ctypes.c_void_p
    return xlib


class X11Windows:
    """One X server connection, asked each frame which viewable windows carry an excluded title."""

    def __init__(self, display: str | None = None) -> None:
        self._xlib = _load_xlib()
        self._xlib.XSetErrorHandler(_ignore_errors)
        self._display = self._xlib.XOpenDisplay(display.encode() if display else None)
        if not self._display:
            raise OSError(
                f"cannot open X display {display or '$DISPLAY'} for window-title exclusion"
            )
        self._root = self._xlib.XDefaultRootWindow(self._display)

    def close(self) -> None:
        if self._display:
            self._xlib.XCloseDisplay(self._display)
            self._display = None

    def rects_matching(self, titles: Sequence[str]) -> list[tuple[int, int, int, int]]:
        """(x, y, w, h) of viewable windows whose title contains any of `titles`, ignoring case."""
        wanted = [t.casefold() for t in titles if t]
        if not wanted or not self._display:
            return []
        return [rect for title, rect in self.titled_windows()
                if any(w in title.casefold() for w in wanted)]

    def title_at(self, x: int, y: int) -> str:
        """The title of the topmost viewable titled window containing screen point (x, y)."""
        for title, (wx, wy, ww, wh) in reversed(self.titled_windows()):  # stacking order: top last
            if wx <= x < wx + ww and wy <= y < wy + wh:
                return title
        return ""

    def titled_windows(self) -> list[tuple[str, tuple[int, int, int, int]]]:
        """(title, (x, y, w, h)) of every viewable window with a title, bottom to top."""
        if not self._display:
            return []
        rects = []
        for window in self._walk(self._root, 0):
            attrs = _XWindowAttributes()
            if not self._xlib.XGetWindowAttributes(self._display, window, ctypes.byref(attrs)):
                continue
            if attrs.map_state != _IS_VIEWABLE:
                continue
            title = self._title(window)
            if title:
                x, y, child = ctypes.c_int(), ctypes.c_int(), Window()
                self._xlib.XTranslateCoordinates(
                    self._display,
                    window,
                    self._root,
                    0,
                    0,
                    ctypes.byref(x),
                    ctypes.byref(y),
                    ctypes.byref(child),
                )
                border = attrs.border_width
                rects.append(
                    (
                        title,
                        (
                            x.value - border,
                            y.value - border,
                            attrs.width + 2 * border,
                            attrs.height + 2 * border,
                        ),
                    )
                )
        return rects

    def _walk(self, window: int, depth: int) -> Iterator[int]:
        root, parent = Window(), Window()
        children = ctypes.POINTER(Window)()
        count = ctypes.c_uint()
        if not self._xlib.XQueryTree(
            self._display,
            window,
            ctypes.byref(root),
            ctypes.byref(parent),
            ctypes.byref(children),
            ctypes.byref(count),
        ):
            return
        kids = [children[i] for i in range(count.value)]
        if children:
            self._xlib.XFree(children)
        for kid in kids:
            yield kid
            if depth + 1 < _MAX_DEPTH:
                yield from self._walk(kid, depth + 1)

    def _title(self, window: int) -> str:
        name = ctypes.c_char_p()
        if not self._xlib.XFetchName(self._display, window, ctypes.byref(name)) or not name.value:
            return ""
        title = name.value.decode("utf-8", errors="replace")
        self._xlib.XFree(name)
        return title
