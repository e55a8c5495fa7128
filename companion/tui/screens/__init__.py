"""Screens of the companion TUI."""
