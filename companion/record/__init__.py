"""Recording a session (events to JSONL + WAV + npz) and replaying it through the clock."""
