"""When people answer: `SUPPORT_HOURS="mon-fri 09:00-17:00"` in `SUPPORT_TIMEZONE` (empty: always)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPEC = re.compile(r"^\s*(\w{3})(?:\s*-\s*(\w{3}))?\s+(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*$", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class SupportHours:
    days: frozenset[int]  # 0 = Monday
    opens: time
    closes: time
    zone: str
    spec: str

    @classmethod
    def parse(cls, spec: str, zone: str = "UTC") -> SupportHours | None:
        """None for an empty spec (staff always around); ValueError naming the problem otherwise."""
        if not spec.strip():
            return None
        match = _SPEC.match(spec)
        if not match:
            raise ValueError(f"support hours {spec!r}: expected e.g. 'mon-fri 09:00-17:00'")
        first, last, opens, closes = match.groups()
        try:
            start, end = DAYS.index(first.lower()), DAYS.index((last or first).lower())
        except ValueError:
            raise ValueError(f"support hours {spec!r}: days are {', '.join(DAYS)}") from None
        days = frozenset(d % 7 for d in range(start, end + 1 if end >= start else end + 8))
        ZoneInfo(zone)  # fails early on an unknown zone
        return cls(days, time.fromisoformat(opens.zfill(5)), time.fromisoformat(closes.zfill(5)), zone, spec.strip())

    def is_open(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.zone))
        return local.weekday() in self.days and self.opens <= local.time() < self.closes

    def describe(self) -> str:
        return f"{self.spec} ({self.zone})"
