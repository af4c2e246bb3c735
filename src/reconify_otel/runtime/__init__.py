"""Process plumbing every part shares: counters and metrics, rate-limited logs, fork safety."""
