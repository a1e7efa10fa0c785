"""The documentation covers the public API and stays in step with it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import ocpp16csms
import ocpp16csms.testing
from ocpp16csms.messages import AuthorizeRequest

ROOT = Path(__file__).resolve().parent.parent


def _tool(name: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / name), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def test_the_api_reference_is_up_to_date() -> None:
    result = _tool("api_reference.py")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_public_name_appears_in_the_docs() -> None:
    text = "".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md"))
    names = [*ocpp16csms.__all__, *ocpp16csms.testing.__all__]
    missing = [n for n in names if not re.search(rf"`{re.escape(n)}`", text)]
    assert missing == []


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
    for page in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")]:
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
