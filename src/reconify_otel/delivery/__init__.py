"""Getting encoded payloads to Reconify: transport, retries, breaker, spool, worker."""
