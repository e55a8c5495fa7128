"""The companion's theme files (companion-dark, -light, -contrast); companion.rules.themes reads them."""

from pathlib import Path

DIRECTORY = Path(__file__).resolve().parent
