"""Helpers for the loader tests: write a source tree, load it, check an error's file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.sources.loader import LoadOptions, load_sources
from knowledge.sources.records import LoadedSources, SourceError
from tests.conftest import write_tree as write

# A minimal valid FAQ so tests about other folders have something to load.
BASE_FAQ = "id,question,answer\nship,How long is shipping?,3-5 business days.\n"


def load(root: Path, files: dict[str, str | bytes], **options: int) -> LoadedSources:
    return load_sources(write(root, files), LoadOptions(**options))


def load_error(root: Path, files: dict[str, str | bytes], **options: int) -> SourceError:
    with pytest.raises(SourceError) as caught:
        load(root, files, **options)
    return caught.value


def assert_error(err: SourceError, path: str, line: int | None, fragment: str) -> None:
    assert err.path == path
    assert err.line == line
    assert fragment in err.message
    where = f"{path}:{line}" if line else path
    assert str(err) == f"{where}: {err.message}"
