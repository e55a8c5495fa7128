"""The wire contract and the event path: events, the micro-turn protocol, the clock, the hub, redaction (no heavy imports)."""
