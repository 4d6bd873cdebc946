"""Counts round trips to Redis: each write the client sends and then waits on is one trip, whether it is one
command, a script (EVALSHA) or a whole pipeline or MULTI transaction. A new connection's own set-up
(HELLO, CLIENT SETINFO, SELECT) is not counted."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from redis.asyncio import Connection, Redis

_COMMAND = re.compile(rb"\*\d+\r\n\$\d+\r\n([A-Za-z]+)\r\n")


class TripCounter:
    def __init__(self) -> None:
        self.trips: list[list[str]] = []  # the command names of each trip, in order

    def client(self, url: str) -> Redis:
        """A client of `url` whose every trip is counted here."""
        counter = self

        class Counting(Connection):
            _setting_up = False

            async def connect_check_health(self, *args: Any, **kwargs: Any) -> None:
                self._setting_up = True
                try:
                    await super().connect_check_health(*args, **kwargs)
                finally:
                    self._setting_up = False

            async def send_packed_command(self, command: bytes | str | Iterable[bytes],
                                          check_health: bool = True) -> None:
                if not self._setting_up:
                    counter.record(command)
                await super().send_packed_command(command, check_health)

        return Redis.from_url(url, connection_class=Counting)

    def record(self, command: bytes | str | Iterable[bytes]) -> None:
        if isinstance(command, str):
            command = command.encode()
        packed = command if isinstance(command, bytes) else b"".join(command)
        self.trips.append([name.decode().upper() for name in _COMMAND.findall(packed)])

    def reset(self) -> None:
        self.trips.clear()

    def take(self) -> list[list[str]]:
        """The trips counted so far; the count starts again."""
        taken, self.trips = self.trips, []
        return taken


def describe(trips: list[list[str]]) -> str:
    """E.g. "EVALSHA, XADD, EVALSHA"; a pipeline shows as "MULTI(INCRBY EXPIRE EXEC)"."""
    return ", ".join(t[0] if len(t) == 1 else f"{t[0]}({' '.join(t[1:])})" for t in trips)
