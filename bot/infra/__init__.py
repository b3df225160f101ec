"""Plumbing every room shares: configuration, the database and its migrations, the Redis connection,
the job queue, the clock, logs, Redis keys, YAML loading with file and line, text folding, the audit log."""
