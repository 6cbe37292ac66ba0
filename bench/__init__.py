"""Benchmarks: one command each, results as JSON, a table and plots under bench/results/."""
