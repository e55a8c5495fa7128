"""Test harnesses: drive one stage with timed events (stage_harness) against a scripted fake
model server (fake_server); no devices, no real server."""
