"""The journal's Redis keys (bot/store/journal.py): a conversation's seen marks and pending set share the
cluster slot of its memory; journals and alive marks are one key per process."""

from __future__ import annotations

from bot.store.memory import RedisState
from bot.store.redis_keys import PREFIX, same_slot


def _key(platform: str, conversation: str, what: str) -> str:
    """One of the conversation's keys: in the cluster slot of its memory."""
    return same_slot(RedisState.memory_key(platform, conversation), what)


def seen_key(platform: str, conversation: str, event: str) -> str:
    """Marks an event taken; its value names the process that took it."""
    return _key(platform, conversation, f"seen:{event}")


def pending_key(platform: str, conversation: str) -> str:
    """The conversation's questions taken and not yet answered, scored by the platform's order."""
    return _key(platform, conversation, "pending")


def journal_key(platform: str, consumer: str) -> str:
    return f"{PREFIX}:journal:{platform}:{consumer}"


def journals_key(platform: str) -> str:
    return f"{PREFIX}:journals:{platform}"  # every process that keeps a journal for the platform


def alive_key(consumer: str) -> str:
    return f"{PREFIX}:alive:{consumer}"
