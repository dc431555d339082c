"""Benchmarks: each runs its baseline in the same run and reports a ratio (see BENCHMARKS.md)."""
