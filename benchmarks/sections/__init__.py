"""One module per benchmark section; each exposes ``bench(run: BenchRun)``."""
