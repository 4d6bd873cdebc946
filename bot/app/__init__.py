"""Putting a process together: settings, wiring, the services adapters get, supervised background tasks."""
