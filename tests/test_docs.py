"""The documentation covers the public API and stays in step with it."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import itertools
import pkgutil
import re
import types
from pathlib import Path

import ocpp16csms
from ocpp16csms.messages import AuthorizeRequest

ROOT = Path(__file__).resolve().parent.parent


REFERENCE = ROOT / "docs" / "reference"
SOURCE = ROOT / "src" / "ocpp16csms"
# Optional extras whose modules need more than the test extra brings.
OPTIONAL: tuple[str, ...] = ()


def _documented_namespaces() -> dict[str, str]:
    """Module → the reference page whose ``::: module`` directive renders it (mkdocstrings)."""
    found: dict[str, str] = {}
    for page in sorted(REFERENCE.glob("*.md")):
        for module in re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), re.M):
            found.setdefault(module, page.name)
    return found


def _public_modules() -> list[types.ModuleType]:
    modules = [ocpp16csms]
    for info in pkgutil.walk_packages(ocpp16csms.__path__, "ocpp16csms."):
        if any(part.startswith("_") for part in info.name.split(".")):
            continue
        if info.name.startswith(OPTIONAL):
            continue
        modules.append(importlib.import_module(info.name))
    return modules


def _attribute_docs(path: Path) -> set[str]:
    """Names assigned at module level with a docstring under them (``NAME = …`` then a string)."""
    body = ast.parse(path.read_text(encoding="utf-8")).body
    names: set[str] = set()
    for node, after in itertools.pairwise(body):
        target = node.targets[0] if isinstance(node, ast.Assign) else getattr(node, "target", None)
        if (
            isinstance(target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
            and isinstance(after.value.value, str)
        ):
            names.add(target.id)
    return names


ATTRIBUTE_DOCS = set().union(*(_attribute_docs(p) for p in SOURCE.rglob("*.py")))


def test_every_reference_directive_names_a_module() -> None:
    for module, page in _documented_namespaces().items():
        assert importlib.util.find_spec(module) is not None, f"{page}: no module {module}"


def test_every_public_name_is_rendered_on_a_reference_page() -> None:
    """A name exported by any public module is exported by a module with a reference page
    (docs/reference/*.md, rendered from ``__all__`` by mkdocstrings)."""
    documented = _documented_namespaces()
    rendered = {
        (name, id(getattr(module, name)))
        for namespace in documented
        for module in [importlib.import_module(namespace)]
        for name in module.__all__
    }
    missing = [
        f"{module.__name__}.{name}"
        for module in _public_modules()
        for name in getattr(module, "__all__", ())
        if (name, id(getattr(module, name))) not in rendered
    ]
    assert missing == [], "add a ::: directive to a page of docs/reference/ for these"


def test_every_rendered_name_has_a_docstring() -> None:
    undocumented = []
    for namespace in _documented_namespaces():
        module = importlib.import_module(namespace)
        assert (module.__doc__ or "").strip(), namespace
        for name in module.__all__:
            obj = getattr(module, name)
            ours = getattr(obj, "__module__", None) or ""
            if callable(obj) and ours.startswith("ocpp16csms"):  # classes, functions
                documented = bool((obj.__doc__ or "").strip())
            else:  # constants and type aliases: a docstring under the assignment
                documented = name in ATTRIBUTE_DOCS
            if not documented:
                undocumented.append(f"{namespace}.{name}")
    assert undocumented == []


def test_every_public_class_and_function_has_a_docstring() -> None:
    undocumented = [
        name
        for name in ocpp16csms.__all__
        if (obj := getattr(ocpp16csms, name)) is not None
        and (isinstance(obj, type) or callable(obj))
        and getattr(obj, "__module__", "").startswith("ocpp16csms")
        and not (obj.__doc__ or "").strip()
    ]
    assert undocumented == []


def test_docs_links_point_at_files_that_exist() -> None:
    for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#]+)\)", page.read_text(encoding="utf-8")):
            if "://" in target:
                continue
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_the_readme_code_example_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks
    namespace: dict[str, object] = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)  # defines cs, handlers, functions
    cs = namespace["cs"]
    assert isinstance(cs, ocpp16csms.CentralSystem)
    assert cs.handler_for(AuthorizeRequest) is namespace["authorize"]
