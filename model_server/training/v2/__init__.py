"""Interaction model v2 training: real code paths in, oracle labels out, protocol v2 actions."""
