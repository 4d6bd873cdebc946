"""Support hours and asking for a person, in the words shoppers use."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.app.settings import SettingsError, load_settings
from bot.handoff.hours import SupportHours
from bot.messages import asks_for_human


def test_support_hours_in_their_time_zone() -> None:
    hours = SupportHours.parse("mon-fri 09:00-17:00", "Europe/Berlin")
    assert hours is not None
    assert hours.is_open(datetime(2026, 11, 24, 10, 0, tzinfo=UTC))  # Tuesday 11:00 in Berlin
    assert not hours.is_open(datetime(2026, 11, 24, 16, 30, tzinfo=UTC))  # 17:30 in Berlin
    assert not hours.is_open(datetime(2026, 11, 28, 10, 0, tzinfo=UTC))  # Saturday
    weekend = SupportHours.parse("sat-sun 10:00-14:00")
    assert weekend is not None and weekend.days == frozenset({5, 6})
    assert SupportHours.parse("") is None


@pytest.mark.parametrize("spec", ["weekdays 9-5", "mon-fri 9:00", "xyz-fri 09:00-17:00"])
def test_bad_support_hours_are_refused(spec: str) -> None:
    with pytest.raises(ValueError, match="support hours"):
        SupportHours.parse(spec)


def test_bad_support_hours_stop_the_bot_at_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SUPPORT_HOURS", "weekdays")
    with pytest.raises(SettingsError, match="SUPPORT_HOURS"):
        load_settings()
    monkeypatch.setenv("SUPPORT_HOURS", "mon-fri 09:00-17:00")
    monkeypatch.setenv("SUPPORT_TIMEZONE", "Mars/Olympus")
    with pytest.raises(SettingsError, match="SUPPORT_TIMEZONE"):
        load_settings()


@pytest.mark.parametrize(("text", "wants"), [
    ("can I talk to a human?", True),
    ("I want to speak with an agent", True),
    ("real person please", True),
    ("connect me to customer service agent", True),
    ("how do I talk to my tent", False),
    ("is this tent human-sized?", False),
    ("who is the agent for your brand in Spain?", False),
])
def test_asking_for_a_person(text: str, wants: bool) -> None:
    assert asks_for_human(text) is wants


async def test_outside_support_hours_the_shopper_is_told_when_to_expect_a_reply(redis_url: str) -> None:
    from redis.asyncio import Redis

    from bot.handoff.desk import HandoffDesk, HandoffPolicy
    from bot.messages import HANDOFF_OPENED
    from bot.store.activity import ActivityLog
    from bot.store.outbox import Outbox

    redis = Redis.from_url(redis_url)
    try:
        hours = SupportHours.parse("mon-fri 09:00-17:00", "Europe/Berlin")
        desk = HandoffDesk(redis, Outbox(redis), ActivityLog(redis), HandoffPolicy(hours=hours))
        assert desk.opened_notice(datetime(2026, 11, 24, 10, 0, tzinfo=UTC)) == HANDOFF_OPENED
        night = desk.opened_notice(datetime(2026, 11, 24, 22, 0, tzinfo=UTC))
        assert night.startswith(HANDOFF_OPENED) and "mon-fri 09:00-17:00 (Europe/Berlin)" in night
    finally:
        await redis.aclose()
