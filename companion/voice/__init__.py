"""companion.voice: speaking (TTS, Speaker), listening (ASR) and echo suppression."""
