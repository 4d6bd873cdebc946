"""Conversation tests a store owner writes (`storebot test FILE`): the YAML format, parsed and checked.

Format (fixed; see ../shared/eval/store-answers/README.md):

    conversations:
      - name: tent price, then weight
        turns:
          - ask: "how much is the summit pro tent?"
            # kind: price
            expect: {contains: ["449.00"], product: "summit-pro"}

Every problem is a SpecError naming the file and line, so the owner can fix the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

EXPECT_KEYS = ("contains", "any", "not_contains", "product", "declines")
TURN_KEYS = ("ask", "expect")
CONVERSATION_KEYS = ("name", "turns")
_LINE = "__line__"
_KEY_LINES = "__key_lines__"
_KIND_COMMENT = re.compile(r"#\s*kind:\s*(?P<kinds>[^#]+)")


class SpecError(ValueError):
    """A conversations file is unreadable or breaks the format; names the file and line."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")
        self.path = path
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Expect:
    contains: tuple[str, ...] = ()
    any: tuple[str, ...] = ()
    not_contains: tuple[str, ...] = ()
    product: str | None = None
    declines: bool | None = None  # None: not stated (an answer is expected)


@dataclass(frozen=True, slots=True)
class TurnSpec:
    ask: str
    expect: Expect
    line: int  # 1-based line of `ask:`
    kinds: tuple[str, ...] = ()  # from a `# kind: price, followup` comment; optional

    @property
    def followup(self) -> bool:
        return "followup" in self.kinds


@dataclass(frozen=True, slots=True)
class ConversationSpec:
    name: str
    turns: tuple[TurnSpec, ...]
    line: int


@dataclass(frozen=True, slots=True)
class Spec:
    path: str  # as shown in messages
    conversations: tuple[ConversationSpec, ...]

    @property
    def turn_count(self) -> int:
        return sum(len(c.turns) for c in self.conversations)


class _LineLoader(yaml.SafeLoader):
    """Records each mapping's line and the line of each of its keys (1-based)."""


def _mapping_with_lines(loader: _LineLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    mapping = loader.construct_mapping(node, deep=True)
    mapping[_LINE] = node.start_mark.line + 1
    mapping[_KEY_LINES] = {k.value: k.start_mark.line + 1 for k, _ in node.value if isinstance(k, yaml.ScalarNode)}
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_with_lines)


def load_spec(path: Path) -> Spec:
    shown = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise SpecError(shown, None, "no such file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(shown, None, f"unreadable: {err}") from None
    return parse_spec(text, shown)


def parse_spec(text: str, shown: str) -> Spec:
    try:
        document = yaml.load(text, Loader=_LineLoader)  # a SafeLoader subclass
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        raise SpecError(shown, mark.line + 1 if mark else None,
                        f"not valid YAML: {getattr(err, 'problem', None) or err}") from None
    if not isinstance(document, dict) or "conversations" not in document:
        raise SpecError(shown, 1, "expected a mapping with a `conversations:` list")
    _no_unknown_keys(document, ("conversations",), shown, "at the top level")
    items = document["conversations"]
    line = document[_KEY_LINES]["conversations"]
    if not isinstance(items, list) or not items:
        raise SpecError(shown, line, "`conversations` must be a non-empty list")
    lines = text.splitlines()
    conversations: list[ConversationSpec] = []
    seen: dict[str, int] = {}
    for item in items:
        conversation = _conversation(item, shown, lines, line)
        if conversation.name in seen:
            raise SpecError(shown, conversation.line, f"duplicate conversation name {conversation.name!r} "
                                                      f"(first at line {seen[conversation.name]})")
        seen[conversation.name] = conversation.line
        conversations.append(conversation)
    return Spec(shown, tuple(conversations))


def _conversation(item: Any, shown: str, lines: list[str], parent_line: int) -> ConversationSpec:
    if not isinstance(item, dict):
        raise SpecError(shown, parent_line, f"each conversation must be a mapping (name, turns), found {item!r:.40}")
    line = item[_LINE]
    _no_unknown_keys(item, CONVERSATION_KEYS, shown, "in a conversation")
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise SpecError(shown, line, "conversation without a `name`")
    turns = item.get("turns")
    if not isinstance(turns, list) or not turns:
        raise SpecError(shown, line, f"conversation {name!r} has no `turns` list")
    return ConversationSpec(name.strip(), tuple(_turn(t, shown, lines, line) for t in turns), line)


def _turn(item: Any, shown: str, lines: list[str], parent_line: int) -> TurnSpec:
    if not isinstance(item, dict):
        raise SpecError(shown, parent_line, f"each turn must be a mapping with ask and expect, found {item!r:.40}")
    line = item[_LINE]
    _no_unknown_keys(item, TURN_KEYS, shown, "in a turn")
    ask = item.get("ask")
    if not isinstance(ask, str) or not ask.strip():
        raise SpecError(shown, line, "turn without an `ask:` question")
    ask_line = item[_KEY_LINES]["ask"]
    expect = item.get("expect")
    if not isinstance(expect, dict) or not (expect.keys() - {_LINE, _KEY_LINES}):
        raise SpecError(shown, line, f"turn {ask!r} has no expectation (`expect:` with {', '.join(EXPECT_KEYS)})")
    return TurnSpec(ask, _expect(expect, shown), ask_line, _kinds(lines, ask_line))


def _expect(raw: dict[str, Any], shown: str) -> Expect:
    _no_unknown_keys(raw, EXPECT_KEYS, shown, "in `expect`")
    at = raw[_KEY_LINES]
    declines = raw.get("declines")
    if "declines" in raw and not isinstance(declines, bool):
        raise SpecError(shown, at["declines"], f"`declines` must be true or false, found {declines!r}")
    product = raw.get("product")
    if "product" in raw and (not isinstance(product, str) or not product.strip()):
        raise SpecError(shown, at["product"], f"`product` must be a handle, SKU or title, found {product!r}")
    lists = {key: _strings(raw[key], key, shown, at[key]) for key in ("contains", "any", "not_contains") if key in raw}
    return Expect(lists.get("contains", ()), lists.get("any", ()), lists.get("not_contains", ()),
                  product.strip() if isinstance(product, str) else None, declines)


def _strings(value: Any, key: str, shown: str, line: int) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v.strip() for v in value):
        raise SpecError(shown, line, f"`{key}` must be a non-empty list of strings (quote numbers: [\"24.00\"]), "
                                     f"found {value!r:.60}")
    return tuple(value)


def _no_unknown_keys(mapping: dict[Any, Any], allowed: tuple[str, ...], shown: str, where: str) -> None:
    for key, line in mapping[_KEY_LINES].items():
        if key not in allowed:
            raise SpecError(shown, line, f"unknown key {key!r} {where} (allowed: {', '.join(allowed)})")


def _kinds(lines: list[str], ask_line: int) -> tuple[str, ...]:
    """Tags from a `# kind:` comment on the ask line or the comment lines right after it."""
    candidates = [lines[ask_line - 1]]
    for text in lines[ask_line:]:
        if text.strip() and not text.lstrip().startswith("#"):
            break
        candidates.append(text)
    for text in candidates:
        found = _KIND_COMMENT.search(text)
        if found:
            return tuple(k.strip().lower() for k in found["kinds"].split(",") if k.strip())
    return ()
