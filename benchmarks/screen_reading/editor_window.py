"""An editor-like window (Tk text widget, title "NAME - editor") showing a file, for the benchmark.

python -m benchmarks.screen_reading.editor_window FILE SIZE THEME [--edit]
(--edit: editable and focused, for the session that types into it)
"""

from __future__ import annotations

import sys
import tkinter as tk
from pathlib import Path

THEMES = {"dark": ("#1e1e1e", "#d4d4d4"), "light": ("#ffffff", "#1e1e1e")}


def main() -> None:
    path, size, theme = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    bg, fg = THEMES[theme]
    root = tk.Tk()
    root.title(f"{path.name} - editor")
    root.geometry("+0+0")
    edit = "--edit" in sys.argv
    text = tk.Text(root, width=80 if edit else 110, height=24, bg=bg, fg=fg, font=("DejaVu Sans Mono", size),
                   borderwidth=0, highlightthickness=0, padx=6, pady=4, insertwidth=2 if edit else 0, insertbackground=fg)
    text.insert("1.0", path.read_text())
    text.configure(state="normal" if edit else "disabled")
    text.pack()
    if edit:
        text.mark_set("insert", "end")
        text.focus_force()
    root.mainloop()


if __name__ == "__main__":
    main()
