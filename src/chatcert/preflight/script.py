"""Script checks: Python 3.10 syntax, standard-library imports only, the on-board URL, the route."""

from __future__ import annotations

import ast
import io
import tokenize
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from chatcert.errors import UsageError
from chatcert.preflight.findings import Finding, error, warning
from chatcert.preflight.stdlib310 import STDLIB_310, WINDOWS_ONLY_310
from chatcert.preflight.syntax310 import check_syntax_310

__all__ = [
    "ImportRef",
    "Script",
    "argparse_default",
    "check_imports",
    "check_route",
    "check_server",
    "check_syntax",
    "imports_of",
    "read_script",
]

_GUARDS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


@dataclass
class Script:
    """A script's text and, when it parses on this Python, its tree."""

    path: Path
    name: str  # as the report names it (the uplink source, or the file name)
    source: str
    tree: ast.Module | None

    @property
    def strings(self) -> list[str]:
        """Every string constant in source order, f-string pieces included."""
        if self.tree is None:
            return []
        found = [n for n in ast.walk(self.tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
        return [str(n.value) for n in sorted(found, key=lambda n: (n.lineno, n.col_offset))]


def read_script(path: Path, name: str | None = None) -> Script:
    """Read a script as Python would (PEP 263 coding cookie); UsageError if it cannot be read."""
    try:
        raw = path.read_bytes()
        encoding, _ = tokenize.detect_encoding(io.BytesIO(raw).readline)
        source = raw.decode(encoding)
    except (OSError, SyntaxError, LookupError, UnicodeDecodeError) as exc:
        raise UsageError(f"script {path}: cannot read: {exc}") from exc
    try:
        tree: ast.Module | None = ast.parse(source, filename=str(path))
    except (SyntaxError, ValueError):
        tree = None
    return Script(path, name or path.name, source, tree)


@dataclass(frozen=True)
class ImportRef:
    """One imported top-level module (level > 0: a relative import)."""

    module: str
    line: int
    level: int
    guarded: bool  # inside `try: ... except ImportError:`


def imports_of(tree: ast.AST) -> list[ImportRef]:
    """Top-level module names imported anywhere in the tree, plus literal importlib/__import__ calls."""
    guarded_nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try) and any(_catches_import_error(h) for h in node.handlers):
            guarded_nodes.update(id(n) for stmt in node.body for n in ast.walk(stmt))
    refs: list[ImportRef] = []
    for node in ast.walk(tree):
        guarded = id(node) in guarded_nodes
        if isinstance(node, ast.Import):
            refs.extend(ImportRef(a.name.split(".")[0], node.lineno, 0, guarded) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            refs.append(ImportRef((node.module or "").split(".")[0], node.lineno, node.level, guarded))
        elif isinstance(node, ast.Call) and _is_dynamic_import(node.func) and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str) and first.value:
                level = len(first.value) - len(first.value.lstrip("."))
                refs.append(ImportRef(first.value.lstrip(".").split(".")[0], node.lineno, level, guarded))
    return sorted(refs, key=lambda r: r.line)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    if handler.type is None:
        return True
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id in _GUARDS for n in names)


def _is_dynamic_import(func: ast.expr) -> bool:
    if isinstance(func, ast.Name):
        return func.id in ("__import__", "import_module")
    return isinstance(func, ast.Attribute) and func.attr == "import_module"


# --------------------------------------------------------------------------------------------- checks


def check_syntax(script: Script) -> Iterator[Finding]:
    """Python 3.10 accepts the script (the pod runs python:3.10-slim)."""
    for problem in check_syntax_310(script.source, script.name):
        yield error(
            "script_syntax_error",
            f"{script.name}:{problem.line}: Python 3.10 rejects this: {problem.message}",
            file=script.name,
            line=problem.line,
            column=problem.column,
            text=_line(script.source, problem.line),
        )


def _line(source: str, number: int) -> str:
    lines = source.splitlines()
    return lines[number - 1].strip()[:200] if 0 < number <= len(lines) else ""


def check_imports(script: Script, local_modules: Iterable[str]) -> Iterator[Finding]:
    """Imports only Python 3.10's standard library, or modules uplinked beside the script."""
    if script.tree is None:
        return
    local = set(local_modules)
    for ref in imports_of(script.tree):
        if ref.level > 0 or ref.module in local or ref.module == "__main__":
            continue
        where = f"{script.name}:{ref.line}"
        if ref.module in WINDOWS_ONLY_310:
            yield warning(
                "script_windows_only_import",
                f"{where} imports {ref.module!r}, which exists only on Windows; the pod runs Linux",
                file=script.name,
                line=ref.line,
                module=ref.module,
            )
        elif ref.module not in STDLIB_310:
            if ref.guarded:
                yield warning(
                    "script_optional_import",
                    f"{where} tries {ref.module!r}, which is not in the "
                    "Python 3.10 standard library; the script must work without it",
                    file=script.name,
                    line=ref.line,
                    module=ref.module,
                )
            else:
                yield error(
                    "script_non_stdlib_import",
                    f"{where} imports {ref.module!r}, which is not in the "
                    "Python 3.10 standard library (python:3.10-slim has nothing else installed)",
                    file=script.name,
                    line=ref.line,
                    module=ref.module,
                )


def check_server(main: Script, helpers: list[Script], onboard: str) -> Iterator[Finding]:
    """The script can reach the on-board server: it names the URL or takes a --server argument."""
    strings = [t for s in (main, *helpers) for t in s.strings]
    if main.tree is None or "--server" in strings or any(onboard in t for t in strings):
        return
    yield error(
        "script_no_server",
        f"{main.name} neither takes a --server argument nor names {onboard}",
        file=main.name,
        expected=onboard,
    )


def check_route(main: Script, helpers: list[Script], route: str) -> Iterator[Finding]:
    """The script (or a module uplinked beside it) names the chat-completions route."""
    if main.tree is None:
        return
    for script in (main, *helpers):
        strings = script.strings
        # Also "/v1" + "/chat/completions": adjacent constants, in source order, joined.
        if any(route in t for t in strings) or route in "".join(strings):
            return
    seen = sorted(
        {t for s in (main, *helpers) for t in s.strings if t.startswith("/") and "/" in t[1:] and len(t) < 80}
    )
    yield error(
        "script_route_missing",
        f"{main.name} never names the route {route} (route-like strings: {', '.join(seen) or 'none'})",
        file=main.name,
        expected=route,
        seen=seen,
    )


def argparse_default(script: Script, option: str) -> object | None:
    """The literal `default=` of `add_argument(option, ...)`, if the script declares one."""
    if script.tree is None:
        return None
    for node in ast.walk(script.tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "add_argument"
            and any(isinstance(a, ast.Constant) and a.value == option for a in node.args)
        ):
            for kw in node.keywords:
                if kw.arg == "default" and isinstance(kw.value, ast.Constant):
                    value: object = kw.value.value
                    return value
    return None
