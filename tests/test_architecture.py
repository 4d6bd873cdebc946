"""Layers go one way: adapters → bot → knowledge. No import cycles, no giant modules, no platform SDK in the core."""

from __future__ import annotations

import ast
from collections import deque
from collections.abc import Collection, Mapping
from functools import cache
from itertools import pairwise
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = {
    "knowledge": {"bot", "adapters", "telegram", "slack_bolt", "slack_sdk", "redis"},
    "bot": {"adapters", "telegram", "slack_bolt", "slack_sdk"},
}
MAX_LINES = {"knowledge": 300, "bot": 300, "adapters": 200}

# Each unit may import itself and units of a lower rank. Units sharing a rank are siblings: neither
# imports the other. A dotted key covers its submodules; a top-level key ("bot") only its __init__,
# so a new bot/x.py fails test_every_module_is_ranked until it is placed here.
RANKS: dict[str, tuple[int, tuple[str, ...]]] = {
    # Importers turn shop exports into records; the index builds on records; eval measures the index.
    "knowledge.sources": (0, ("knowledge", "knowledge.sources")),
    "knowledge.index": (1, ("knowledge.index",)),
    "knowledge.eval": (2, ("knowledge.eval",)),
    # Neutral types, the bot's own texts and background tasks: everything in bot may use them.
    "bot base": (10, ("bot", "bot.types", "bot.messages", "bot.tasks", "bot.events", "bot.outbound")),
    # Redis state and the answerers are siblings: answerers see only the base types and knowledge
    # (the engine gets one injected as an `Answerer`), and the store knows nothing of answering.
    "bot.store": (11, ("bot.store",)),
    "bot.answerers": (11, ("bot.answerers",)),
    # The human handoff desk keeps its records in the store.
    "bot.handoff": (12, ("bot.handoff",)),
    # The engine runs a conversation over state, desk and an injected answerer; ops handlers are
    # injected through a protocol, so the engine never imports ops, app or cli.
    "bot.engine": (13, ("bot.engine",)),
    # Knowledge-base operations and reports; the conversation tests and reload gate run the engine.
    "bot.ops": (14, ("bot.ops",)),
    # Fine-tuning and chat evaluation drive the LLM answerer over stored conversations.
    "bot.training": (15, ("bot.training",)),
    # Settings and wiring assemble everything below into the Services an adapter serves with.
    "bot.app": (16, ("bot.app",)),
    "bot.cli": (17, ("bot.cli",)),
    # Adapters serve bot's Services. What all adapters share (settings loading) sits below them and
    # imports no platform; each platform stands alone and never imports another.
    "adapters shared": (20, ("adapters", "adapters.settings_base")),
    "adapters.console": (21, ("adapters.console",)),
    "adapters.telegram": (21, ("adapters.telegram",)),
    "adapters.slack": (21, ("adapters.slack",)),
}


def _modules() -> dict[str, Path]:
    """bot.store.memory → bot/store/memory.py; a package's __init__.py is the package itself."""
    modules = {}
    for layer in MAX_LINES:
        for path in sorted((ROOT / layer).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return modules


MODULES = _modules()


def _imported(module: str, node: ast.Import | ast.ImportFrom) -> list[str]:
    """The project modules one import statement names (`from x.y import z` names x.y.z if that is a module)."""
    if isinstance(node, ast.Import):
        names = [alias.name for alias in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: `from ..x import y` in bot/store/memory.py means bot.x
            package = module.split(".")[: None if MODULES[module].name == "__init__.py" else -1]
            base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
        names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
    found = []
    for name in names:
        while name and name not in MODULES:  # `import bot.types.Foo` style: the longest module prefix
            name = name.rpartition(".")[0]
        if name and name != module:
            found.append(name)
    return found


@cache
def import_graph() -> dict[str, dict[str, int]]:
    """module → {imported module: line of its first import}, every import counted (functions, TYPE_CHECKING)."""
    graph: dict[str, dict[str, int]] = {}
    for module, path in MODULES.items():
        graph[module] = {}
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import | ast.ImportFrom):
                for target in _imported(module, node):
                    graph[module][target] = min(node.lineno, graph[module].get(target, node.lineno))
    return graph


def strongly_connected(graph: Mapping[str, Collection[str]]) -> list[set[str]]:
    """The groups of modules that all reach each other (a module importing itself counts alone)."""
    def reach(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for nxt in graph.get(todo.pop(), ()):
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return seen

    reaches = {node: reach(node) for node in graph}
    groups: list[set[str]] = []
    for node in sorted(graph):
        if node in reaches[node] and not any(node in group for group in groups):
            groups.append({other for other in reaches[node] if node in reaches[other]})
    return groups


def shortest_cycle(graph: Mapping[str, Collection[str]], group: set[str]) -> list[str]:
    """A shortest path from the group's first module back to itself, e.g. [a, b, a]."""
    start = min(group)
    parent: dict[str, str] = {}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        for nxt in sorted(set(graph[current]) & group):
            if nxt == start:
                path = [current]
                while path[-1] != start:
                    path.append(parent[path[-1]])
                return [*reversed(path), start]
            if nxt not in parent:
                parent[nxt] = current
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start}")


def test_cycle_finder_on_a_synthetic_graph() -> None:
    cyclic = {"a": {"b"}, "b": {"a", "c"}, "c": set()}
    assert strongly_connected(cyclic) == [{"a", "b"}]
    assert shortest_cycle(cyclic, {"a", "b"}) == ["a", "b", "a"]
    assert strongly_connected({"a": {"b"}, "b": {"c"}, "c": set()}) == []
    assert shortest_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}, {"a", "b", "c"}) == ["a", "b", "c", "a"]
    assert strongly_connected({"a": {"a"}}) == [{"a"}]


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles = []
    for group in strongly_connected(graph):
        cycle = shortest_cycle(graph, group)
        steps = " → ".join(f"{a} (line {graph[a][b]})" for a, b in pairwise(cycle))
        cycles.append(f"{steps} → {cycle[0]}" + (f"; cycle group: {sorted(group)}" if len(group) > 2 else ""))
    assert not cycles, "import cycles (line: where a module imports the next one):\n" + "\n".join(cycles)


def _unit(module: str) -> str | None:
    for unit, (_, keys) in RANKS.items():
        if any(module == key or ("." in key and module.startswith(key + ".")) for key in keys):
            return unit
    return None


def test_every_module_is_ranked() -> None:
    unranked = sorted(module for module in MODULES if _unit(module) is None)
    assert not unranked, f"modules with no rank, place them in RANKS: {unranked}"


@pytest.mark.parametrize("layer", sorted(MAX_LINES))
def test_no_back_arrows(layer: str) -> None:
    graph = import_graph()
    offenders = []
    for module in sorted(m for m in graph if m.split(".")[0] == layer):
        unit = _unit(module)
        for target, line in sorted(graph[module].items()):
            other = _unit(target)
            if unit and other and other != unit and RANKS[other][0] >= RANKS[unit][0]:
                offenders.append(f"{MODULES[module].relative_to(ROOT)}:{line} imports {target} "
                                 f"({unit} rank {RANKS[unit][0]} → {other} rank {RANKS[other][0]})")
    assert not offenders, "imports against the layering:\n" + "\n".join(offenders)


@pytest.mark.parametrize("layer", sorted(MAX_LINES))
def test_modules_stay_small(layer: str) -> None:
    sizes = {path: len(path.read_text(encoding="utf-8").splitlines()) for path in (ROOT / layer).rglob("*.py")}
    too_big = sorted(f"{path.relative_to(ROOT)}: {n} lines" for path, n in sizes.items() if n > MAX_LINES[layer])
    assert not too_big, f"modules over {MAX_LINES[layer]} lines in {layer}/:\n" + "\n".join(too_big)


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_layer_imports_only_downwards(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    offenders = {
        f"{path.relative_to(ROOT)} imports {name}"
        for path in files for name in _imports(path) & FORBIDDEN[package]
    }
    assert not offenders
