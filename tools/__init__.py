"""tools: what the background agent can run: tests, linters and git, behind a validated registry."""
