"""companion.streams: perception sources (files, screen, audio, typed text) that emit timestamped events."""
