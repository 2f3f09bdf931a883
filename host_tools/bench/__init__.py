"""Benchmarks: each module here has a main() that measures and prints figures (never asserts).
`python -m host_tools.bench [name ...]` runs them all, or the named ones."""
