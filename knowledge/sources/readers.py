"""Row readers for CSV, JSON/JSONL and YAML that keep the 1-based line of every row.

Every problem is raised as a SourceError naming the file and line, so ops can fix the file.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from knowledge.sources.records import SourceError

Row = tuple[int, dict[str, Any]]  # (line, fields)


def read_text(path: Path, shown: str, max_bytes: int) -> str:
    """The file's text; refuses files over the limit and bytes that are not UTF-8."""
    size = path.stat().st_size
    if size > max_bytes:
        raise SourceError(shown, None, f"file is {size:,} bytes, over the {max_bytes:,}-byte limit")
    data = path.read_bytes()
    if b"\x00" in data:
        raise SourceError(shown, _line_at(data, data.index(b"\x00")), "binary data (NUL byte)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise SourceError(
            shown, _line_at(data, err.start), f"not UTF-8 (byte 0x{data[err.start]:02x}); save as UTF-8"
        ) from None


def _line_at(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def csv_rows(text: str, shown: str) -> Iterator[Row]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        return
    except csv.Error as err:
        raise SourceError(shown, 1, f"unreadable CSV header: {err}") from None
    columns = [name.strip() for name in header]
    last_line = reader.line_num
    while True:
        start = last_line + 1
        try:
            values = next(reader)
        except StopIteration:
            return
        except csv.Error as err:
            raise SourceError(shown, start, f"unparseable CSV row: {err}") from None
        last_line = reader.line_num
        if not values or all(not v.strip() for v in values):
            continue
        if len(values) != len(columns):
            raise SourceError(
                shown, start, f"expected {len(columns)} fields ({', '.join(columns)}), found {len(values)}"
            )
        yield start, dict(zip(columns, values, strict=True))


def json_rows(text: str, shown: str) -> Iterator[Row]:
    """A JSON array of objects, or JSON Lines (one object per line)."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        yield from _json_array_rows(text, shown)
        return
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as err:
            raise SourceError(shown, number, f"unparseable JSON: {err.msg}") from None
        yield number, _expect_object(value, shown, number)


def _json_array_rows(text: str, shown: str) -> Iterator[Row]:
    decoder = json.JSONDecoder()
    pos = text.index("[") + 1
    while True:
        pos = _skip_space(text, pos)
        if pos < len(text) and text[pos] == "]":
            return
        line = text.count("\n", 0, pos) + 1
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as err:
            raise SourceError(shown, err.lineno, f"unparseable JSON: {err.msg}") from None
        yield line, _expect_object(value, shown, line)
        pos = _skip_space(text, pos)
        if pos < len(text) and text[pos] == ",":
            pos += 1
        elif pos >= len(text) or text[pos] != "]":
            raise SourceError(shown, text.count("\n", 0, pos) + 1, "unparseable JSON: expected ',' or ']'")


def _skip_space(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    return pos


def _expect_object(value: Any, shown: str, line: int) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise SourceError(shown, line, f"expected an object with fields, found {type(value).__name__}")
    return value


class TextLoader(yaml.SafeLoader):
    """SafeLoader that keeps scalars as written: `0042`, `19.90`, `Yes` stay those strings.

    Plain SafeLoader would turn them into 34 (octal), 19.9 and True. Only null and `<<` resolve.
    """


TextLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers
            if tag in ("tag:yaml.org,2002:null", "tag:yaml.org,2002:merge")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


class _LineLoader(TextLoader):
    """TextLoader that records each mapping's line under a reserved key."""


def _construct_mapping_with_line(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping_with_line
)


def yaml_rows(text: str, shown: str) -> Iterator[Row]:
    """A YAML list of mappings, or a mapping with one list of them (e.g. `faqs:`)."""
    try:
        document = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise SourceError(shown, line, f"unparseable YAML: {getattr(err, 'problem', err)}") from None
    if document is None:
        return
    if isinstance(document, dict):
        lists = [v for k, v in document.items() if k != "__line__" and isinstance(v, list)]
        if len(lists) != 1:
            raise SourceError(shown, 1, "expected a list of entries (or one key holding that list)")
        document = lists[0]
    if not isinstance(document, list):
        raise SourceError(shown, 1, "expected a list of entries")
    for item in document:
        if not isinstance(item, dict):
            raise SourceError(shown, None, f"expected a mapping per entry, found {item!r:.40}")
        line = int(item.pop("__line__", 0)) or 1
        yield line, item


TABULAR_READERS = {".csv": csv_rows, ".json": json_rows, ".jsonl": json_rows,
                   ".yaml": yaml_rows, ".yml": yaml_rows}


def tabular_rows(path: Path, shown: str, max_bytes: int) -> Iterator[Row]:
    reader = TABULAR_READERS[path.suffix.lower()]
    return reader(read_text(path, shown, max_bytes), shown)
