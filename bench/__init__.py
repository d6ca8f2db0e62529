"""Benchmarks behind `make bench`: allocation and speed figures measured on the real interpreters."""
