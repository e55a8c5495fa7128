"""Benchmarks: every measurement of the product, kept out of the runtime packages."""
