"""Conversation state and records in Redis: keys, memory, activity, feedback; an in-process stand-in for the demo."""
