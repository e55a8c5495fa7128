"""CompanionBench: what the companion really says and does, live, against cascaded baselines."""
