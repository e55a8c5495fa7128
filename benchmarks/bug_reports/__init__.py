"""Benchmark of the agent's bug reports: localization, values, words, save → result warm vs cold."""
