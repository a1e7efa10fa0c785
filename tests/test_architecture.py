"""The shape of the package (docs/architecture.md), checked from its source.

Every import counts: module level, inside functions, and under ``TYPE_CHECKING``.
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import ocpp16csms
from ocpp16csms import CentralSystem

SOURCE = Path(ocpp16csms.__file__).resolve().parent
FEATURES = (
    "core",
    "remote_trigger",
    "smart_charging",
    "firmware",
    "local_auth_list",
    "reservation",
    "security",
    "plug_and_charge",
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Module → the package modules it imports (a package counts as its ``__init__``)."""
    modules = {_module_name(p): p for p in SOURCE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")
                    base = base[: len(base) - node.level + 1]
                    stem = ".".join([*base, *([node.module] if node.module else [])])
                else:
                    stem = node.module or ""
                # ``from pkg import sub`` depends on the submodule; ``from mod import name`` on
                # the module that defines the name.
                candidates = [
                    f"{stem}.{alias.name}" if f"{stem}.{alias.name}" in modules else stem
                    for alias in node.names
                ]
            elif isinstance(node, ast.Import):
                candidates = [alias.name for alias in node.names]
            else:
                continue
            for candidate in candidates:
                if candidate in modules and candidate != name:
                    targets.add(candidate)
        graph[name] = targets
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            # A package's own modules importing each other through it is not a cycle of
            # ours; importing the package that contains you is one.
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_no_import_cycle_among_the_package_modules() -> None:
    graph = _imports()
    # A package __init__ re-exports its submodules; a submodule that imports its own
    # package's __init__ back would close a cycle, and is reported like any other.
    assert _cycle(graph) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) is None


def test_features_never_import_each_other_or_the_engine_class() -> None:
    graph = _imports()
    for feature in FEATURES:
        prefix = f"ocpp16csms.profiles.{feature}"
        for module, targets in graph.items():
            if not (module == prefix or module.startswith(prefix + ".")):
                continue
            for target in targets:
                assert not target.startswith("ocpp16csms.central_system"), (module, target)
                assert not target.startswith("ocpp16csms.bundle"), (module, target)
                if target.startswith("ocpp16csms.profiles."):
                    assert target == prefix or target.startswith(prefix + "."), (module, target)


def test_the_lower_layers_never_import_features_or_the_engine() -> None:
    graph = _imports()
    lower = [
        m
        for m in graph
        if not m.startswith(
            (
                "ocpp16csms.profiles",
                "ocpp16csms.central_system",
                "ocpp16csms._inbound",  # the central system's per-CALL path
                "ocpp16csms._features",
                "ocpp16csms.bundle",
                "ocpp16csms.transports",
                "ocpp16csms.testing",
                "ocpp16csms.stores.sqlite",
                "ocpp16csms.stores.postgresql",
                "ocpp16csms.routers",
                "ocpp16csms.otel",
                "ocpp16csms.operator_api",
            )
        )
        and m != "ocpp16csms"
    ]
    for module in lower:
        for target in graph[module]:
            assert not target.startswith(
                ("ocpp16csms.profiles", "ocpp16csms.central_system", "ocpp16csms.bundle")
            ), (module, target)


def test_every_feature_has_its_package() -> None:
    for feature in FEATURES:
        package = importlib.import_module(f"ocpp16csms.profiles.{feature}")
        assert package.__all__, feature
        for name in package.__all__:
            assert hasattr(package, name), (feature, name)


def test_no_module_is_over_700_lines() -> None:
    long = {
        _module_name(p): n
        for p in SOURCE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 700
    }
    assert long == {}


def test_the_top_level_is_small_and_every_name_resolves() -> None:
    assert len(ocpp16csms.__all__) <= 80
    assert len(set(ocpp16csms.__all__)) == len(ocpp16csms.__all__)
    for name in ocpp16csms.__all__:
        assert hasattr(ocpp16csms, name), name


def test_every_module_declares_all_and_it_resolves() -> None:
    for info in pkgutil.walk_packages(ocpp16csms.__path__, "ocpp16csms."):
        if info.name.startswith("ocpp16csms.transports") or info.name in {
            "ocpp16csms.testing.websocket",
            "ocpp16csms.testing.strategies",
            "ocpp16csms.testing.schema_strategies",
            "ocpp16csms.routers.nats",
        }:
            continue  # optional extras; covered by their own tests
        module = importlib.import_module(info.name)
        assert hasattr(module, "__all__"), info.name
        for name in module.__all__:
            assert hasattr(module, name), (info.name, name)


def test_the_central_system_derives_from_no_class_of_ours() -> None:
    assert CentralSystem.__bases__ == (object,)
