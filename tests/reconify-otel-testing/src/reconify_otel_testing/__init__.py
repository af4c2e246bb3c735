"""Test doubles for reconify-otel's tests, examples and benchmarks.

The offline Reconify sink, the loopback server and the replay of recorded traffic are
product features (``reconify_otel.offline``, behind ``reconify-otel sink`` and
``reconify-otel demo``). What only tests need, the simulated Assistants API, lives here.
"""
