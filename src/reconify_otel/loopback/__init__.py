"""Loopback stand-ins (Reconify sink, Assistants API) for the demo, tests, examples and benchmarks."""
