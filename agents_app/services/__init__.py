"""Writes of the agents app: agents (seed, start/stop), tasks (create, cancel, retry, run)."""
