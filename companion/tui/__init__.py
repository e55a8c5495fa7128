"""The Textual TUI: the app, screens, widgets, layout, the event bridge and the transcript view."""
