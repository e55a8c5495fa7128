"""The recognizer's fine-tuning: Whisper tiny.en on synthetic coding talk (see README.md here)."""
