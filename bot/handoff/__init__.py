"""Handing a conversation to people and back: the desk, the outbox between platforms, support hours."""
