"""Widgets of the companion TUI, one per module."""
