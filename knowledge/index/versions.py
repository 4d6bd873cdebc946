"""Versioned index builds on disk: `versions/<id>/` directories and an atomically switched CURRENT.

A version directory appears only complete (built under a temporary name, then renamed), and the
CURRENT pointer is replaced with os.replace, so a reader never sees a half-written version.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Manifest:
    version: str
    built_at: str
    build_seconds: float
    embedding_model: str
    dims: int
    counts: dict[str, int]
    sources: list[dict[str, Any]]
    thresholds: dict[str, float]
    embedded: int  # vectors computed in this build; the rest came from the cache
    warnings: list[str] = field(default_factory=list)
    warning_counts: dict[str, int] = field(default_factory=dict)  # by kind, all of them
    warning_examples: dict[str, list[str]] = field(default_factory=dict)  # by kind, the first few
    faq_threshold_calibrated: bool = False  # False: KB_FAQ_THRESHOLD, too few past questions to calibrate

    @classmethod
    def read(cls, directory: Path) -> Manifest:
        return cls(**json.loads((directory / "manifest.json").read_text(encoding="utf-8")))

    def write(self, directory: Path) -> None:
        (directory / "manifest.json").write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")


class VersionStore:
    def __init__(self, root: Path, keep: int = 5) -> None:
        self.root = root
        self.keep = max(1, keep)
        self._versions = root / "versions"
        self._pointer = root / "CURRENT"

    def current(self) -> str | None:
        try:
            version = self._pointer.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return None
        return version or None

    def path(self, version: str) -> Path:
        return self._versions / version

    def versions(self) -> list[str]:
        """Complete versions, oldest first (ids sort by build time)."""
        if not self._versions.is_dir():
            return []
        return sorted(
            p.name for p in self._versions.iterdir()
            if p.is_dir() and not p.name.startswith(".") and (p / "manifest.json").is_file()
        )

    def new_version_id(self) -> str:
        return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)

    def staging_dir(self, version: str) -> Path:
        path = self._versions / f".building-{version}"
        path.mkdir(parents=True)
        return path

    def publish(self, staging: Path, version: str) -> None:
        """Make a fully written staging directory the live version, then prune old ones."""
        staging.rename(self.path(version))
        self._point_to(version)
        self._prune()

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def rollback(self) -> str:
        """Switch to the version built before the live one; returns it."""
        current = self.current()
        older = [v for v in self.versions() if current is None or v < current]
        if not older:
            raise LookupError("no older version to roll back to")
        self._point_to(older[-1])
        return older[-1]

    def _point_to(self, version: str) -> None:
        tmp = self.root / f".CURRENT.{secrets.token_hex(4)}"
        tmp.write_text(version + "\n", encoding="utf-8")
        os.replace(tmp, self._pointer)

    def _prune(self) -> None:
        current = self.current()
        old = [v for v in self.versions() if v != current]
        for version in old[: max(0, len(old) - (self.keep - 1))]:
            shutil.rmtree(self.path(version), ignore_errors=True)
