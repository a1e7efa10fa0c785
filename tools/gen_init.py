"""Write src/ocpp16csms/__init__.py: explicit re-exports (a static ``__all__`` for type checkers).

python tools/gen_init.py          # rewrite the file (then run ruff format on it)
python tools/gen_init.py --check  # exit 1 if a module's public name is not exported
"""

from __future__ import annotations

import argparse
import importlib
import sys

MODULES = [
    "constraints",
    "enums",
    "datatypes",
    "messages",
    "profiles",
    "registry",
    "errors",
    "rpc",
    "converter",
    "codec",
    "validation",
    "rules",
    "session",
    "connection",
    "stores",
    "handlers",
    "operations",
    "central_system",
    "local_list",
    "smart_charging",
    "reservations",
    "security",
    "services.firmware",
    "services.local_auth_list",
    "services.security",
    "services.smart_charging",
]
TARGET = "src/ocpp16csms/__init__.py"
DOCSTRING = "ocpp16csms: the central-system side of OCPP 1.6J, as an embeddable, typed SDK."


def public_names() -> list[tuple[str, list[str]]]:
    seen: set[str] = set()
    groups = []
    for module in MODULES:
        names = [
            n for n in importlib.import_module(f"ocpp16csms.{module}").__all__ if n not in seen
        ]
        seen.update(names)
        groups.append((module, names))
    return groups


def render() -> str:
    out = [
        '"""ocpp16csms: the central-system side of OCPP 1.6J, as an embeddable, typed SDK."""\n\n'
    ]
    names: list[str] = []
    for module, group in public_names():
        names += group
        out.append(f"from .{module} import (\n" + "".join(f"    {n},\n" for n in group) + ")\n")
    out.append('\n__version__ = "0.1.0.dev0"\n"""The version of the package."""\n')
    out.append(
        "\n__all__ = [\n"
        + "".join(f'    "{n}",\n' for n in sorted([*names, "__version__"]))
        + "]\n"
    )
    return "".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    if args.check:
        import ocpp16csms

        missing = [n for _, group in public_names() for n in group if n not in ocpp16csms.__all__]
        if missing:
            print(f"not exported from ocpp16csms: {missing}; run python tools/gen_init.py")
            return 1
        return 0
    with open(TARGET, "w", encoding="utf-8") as handle:
        handle.write(render())
    return 0


if __name__ == "__main__":
    sys.exit(main())
