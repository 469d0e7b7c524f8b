"""Asyncio plumbing for the daemon: bounded queues, device reader threads, health."""
