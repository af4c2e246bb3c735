"""Loopback stand-ins (Reconify sink, Assistants API) for demo, tests, examples, benchmarks."""
