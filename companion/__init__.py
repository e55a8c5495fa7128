"""companion: a local-first pair-programming companion that perceives, listens and interjects."""

__version__ = "0.1.0"
