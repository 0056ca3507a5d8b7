"""Benchmarks that ship with the package because a command runs them (``ganforge bench modes``: ``bench.modes``).

The repository's ``bench/`` scripts are thin wrappers or one-off measurements; what the CLI needs lives here. May
import every other layer of ganforge (a bench trains, samples and evaluates); nothing in ganforge imports it except
``cli``.
"""
