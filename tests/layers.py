"""The layer contract of DESIGN.md §3, checked by walking every module's imports.

``python -m tests.layers`` exits non-zero and names the offending imports when a module imports a
layer it must not: the sans-I/O core (webrtc, media) imports no I/O framework, and imports point
down (signaling/state -> runtime -> media -> webrtc).
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "sfu_trio"
IO_FRAMEWORKS = {
    "trio",
    "trio_websocket",
    "quart",
    "quart_trio",
    "hypercorn",
    "coredis",
    "redis",
    "prometheus_client",
    "asyncio",
    "socket",
    "anyio",
}
# layer -> layers (inside sfu_trio) it may import
ALLOWED = {
    "webrtc": {"webrtc"},
    "media": {"media", "webrtc"},
    "runtime": {"runtime", "media", "webrtc", "config"},
    "state": {"state", "runtime", "media", "webrtc", "config"},
    "signaling": {"signaling", "state", "runtime", "media", "webrtc", "config", "observability"},
    "observability": {"observability", "config"},
    # The load generator is a client of the server: it speaks the protocol with the sans-I/O
    # codecs of webrtc/ and never reaches into the server's own layers.
    "loadtest": {"loadtest", "webrtc"},
}
PURE_LAYERS = {"webrtc", "media"}


def imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package_parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.append((node.lineno, module))
    return found


def violations() -> list[str]:
    problems = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE)
        if len(relative.parts) < 2:
            continue  # top-level modules (cli, server, config) compose the layers
        layer = relative.parts[0]
        for lineno, module in imported_modules(path):
            top = module.split(".")[0]
            if layer in PURE_LAYERS and top in IO_FRAMEWORKS:
                problems.append(f"{relative}:{lineno}: sans-I/O layer imports {module}")
            if top == "sfu_trio":
                parts = module.split(".")
                target = parts[1] if len(parts) > 1 else ""
                if target and target not in ALLOWED.get(layer, set()) and target != "__init__":
                    problems.append(f"{relative}:{lineno}: {layer} must not import {module}")
    return problems


def main() -> int:
    problems = violations()
    for problem in problems:
        print(problem)
    print(f"layer contract: {len(problems)} violation(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
