"""The background agent: jobs, tool dispatch, spoken summaries, bug reports and "why?" answers."""
