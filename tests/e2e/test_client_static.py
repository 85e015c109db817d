"""Static smoke test of the browser client in `client/`: it parses, its imports and references
resolve to files that exist, and it loads nothing from npm or the network."""

from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

CLIENT = Path(__file__).resolve().parents[2] / "client"
JS_FILES = sorted(CLIENT.rglob("*.js"))
CSS_FILES = sorted(CLIENT.rglob("*.css"))
MAX_LINES = 420

# `import x from "..."`, `import "..."`, `export {x} from "..."`, `import("...")`.
_IMPORT_RE = re.compile(
    r"""(?:^|[\s;])(?:import|export)\b[^'"`;]*?\bfrom\s*(['"])(?P<a>[^'"]+)\1"""
    r"""|(?:^|[\s;])import\s*(['"])(?P<b>[^'"]+)\3"""
    r"""|\bimport\(\s*(['"])(?P<c>[^'"]+)\5\s*\)""",
    re.MULTILINE,
)
_CSS_REF_RE = re.compile(r"""@import\s+(?:url\()?\s*['"]?([^'")\s;]+)|url\(\s*['"]?([^'")\s]+)""")


def _rel(path: Path) -> str:
    return path.relative_to(CLIENT).as_posix()


def _js_imports(path: Path) -> list[str]:
    text = path.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.DOTALL)  # JSDoc may mention import(...)
    return [m.group("a") or m.group("b") or m.group("c") for m in _IMPORT_RE.finditer(text)]


def _is_local(ref: str) -> bool:
    return not re.match(r"^(?:[a-z][a-z0-9+.-]*:|//|#)", ref, re.IGNORECASE)


class _References(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.refs: list[tuple[str, str]] = []
        self.module_scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in ("src", "href"):
            ref = values.get(name)
            if ref:
                self.refs.append((tag, ref))
        if tag == "script" and values.get("src"):
            assert values.get("type") == "module", f"<script src={values['src']}> is not a module"
            self.module_scripts.append(values["src"] or "")


def test_client_files_exist() -> None:
    assert (CLIENT / "index.html").is_file()
    for name in ("app.js", "signaling.js", "call.js", "styles.css"):
        assert (CLIENT / name).is_file(), name
    assert (CLIENT / "ui").is_dir()
    assert len(JS_FILES) >= 10


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("path", JS_FILES, ids=_rel)
def test_module_parses(path: Path) -> None:
    # Plain `node --check file.js` treats the file as CommonJS-or-detected and lets some broken
    # modules through; parse explicitly as an ES module from stdin instead.
    node = shutil.which("node")
    assert node is not None
    result = subprocess.run(
        [node, "--input-type=module", "--check"],
        input=path.read_bytes(),
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr.decode(errors="replace")


@pytest.mark.parametrize("path", JS_FILES, ids=_rel)
def test_imports_resolve_to_client_files(path: Path) -> None:
    for spec in _js_imports(path):
        assert spec.startswith(("./", "../")), f"{_rel(path)}: bare or remote import {spec!r}"
        target = (path.parent / spec).resolve()
        assert target.is_file(), f"{_rel(path)}: {spec!r} does not exist"
        assert CLIENT in target.parents, f"{_rel(path)}: {spec!r} leaves client/"


def test_import_parser_sees_imports() -> None:
    imports = _js_imports(CLIENT / "app.js")
    assert "./call.js" not in imports  # app.js reaches the call through conference.js
    assert {"./conference.js", "./ui/grid.js", "./ui/join.js"} <= set(imports)


def test_every_module_is_reachable_from_app() -> None:
    seen: set[Path] = set()
    todo = [CLIENT / "app.js"]
    while todo:
        path = todo.pop().resolve()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(path.parent / spec for spec in _js_imports(path))
    unused = sorted(_rel(p) for p in JS_FILES if p.resolve() not in seen)
    assert unused == []


def test_index_html_references_existing_files() -> None:
    parser = _References()
    parser.feed((CLIENT / "index.html").read_text(encoding="utf-8"))
    assert parser.module_scripts == ["app.js"]
    assert parser.refs, "index.html references nothing"
    for tag, ref in parser.refs:
        assert _is_local(ref), f"<{tag}> loads {ref!r} from outside (no CDN allowed)"
        assert (CLIENT / ref.split("?")[0].lstrip("/")).is_file(), f"<{tag}> {ref!r} is missing"


@pytest.mark.parametrize("path", CSS_FILES, ids=_rel)
def test_stylesheet_references_exist(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    for match in _CSS_REF_RE.finditer(text):
        ref = match.group(1) or match.group(2)
        if ref.startswith("data:"):
            continue
        assert _is_local(ref), f"{_rel(path)} loads {ref!r} from outside"
        assert (path.parent / ref).resolve().is_file(), f"{_rel(path)}: {ref!r} is missing"


@pytest.mark.parametrize("path", JS_FILES + CSS_FILES, ids=_rel)
def test_files_stay_small(path: Path) -> None:
    lines = path.read_text(encoding="utf-8").count("\n")
    assert lines <= MAX_LINES, f"{_rel(path)} has {lines} lines"
