"""Does this source parse as Python 3.10, whichever Python runs chatcert? Standard library only.

`ast.parse(feature_version=(3, 10))` rejects most newer syntax (except*, type aliases, type parameter
lists) but not all of it: star expressions in subscripts and in `*args` annotations (PEP 646, 3.11)
parse on 3.11+, and PEP 701 f-strings (reused quotes, backslashes, comments, line breaks inside the
braces) parse on 3.12+. Those are looked for here.
"""

from __future__ import annotations

import ast
import io
import sys
import tokenize
from dataclasses import dataclass

__all__ = ["SyntaxProblem", "check_syntax_310"]


@dataclass(frozen=True)
class SyntaxProblem:
    """Where and why Python 3.10 would refuse the source."""

    line: int
    column: int
    message: str


def check_syntax_310(source: str, filename: str = "<script>") -> list[SyntaxProblem]:
    """[] if Python 3.10 accepts the source, else the first reason it would not."""
    try:
        tree = ast.parse(source, filename=filename, feature_version=(3, 10))
    except SyntaxError as exc:
        return [SyntaxProblem(exc.lineno or 0, exc.offset or 0, exc.msg)]
    problems = _pep646(tree)
    if sys.version_info >= (3, 12):
        problems += _pep701(source)
    return sorted(problems, key=lambda p: (p.line, p.column))[:1]


def _pep646(tree: ast.AST) -> list[SyntaxProblem]:
    found: list[SyntaxProblem] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript):
            parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
            if any(isinstance(p, ast.Starred) for p in parts):
                found.append(
                    SyntaxProblem(
                        node.lineno, node.col_offset + 1, "star expression in a subscript needs Python 3.11"
                    )
                )
        elif (
            isinstance(node, ast.arguments)
            and node.vararg
            and isinstance(node.vararg.annotation, ast.Starred)
        ):
            arg = node.vararg
            found.append(
                SyntaxProblem(arg.lineno, arg.col_offset + 1, "starred *args annotation needs Python 3.11")
            )
    return found


def _pep701(source: str) -> list[SyntaxProblem]:
    """f-strings that only the 3.12 tokenizer accepts (checked on 3.12+, where it tokenizes them)."""
    start = getattr(tokenize, "FSTRING_START", None)
    middle = getattr(tokenize, "FSTRING_MIDDLE", None)
    end = getattr(tokenize, "FSTRING_END", None)
    found: list[SyntaxProblem] = []
    quotes: list[str] = []  # the quote of each f-string we are inside, outermost first

    def report(tok: tokenize.TokenInfo, why: str) -> None:
        found.append(SyntaxProblem(tok.start[0], tok.start[1] + 1, f"f-string: {why} needs Python 3.12"))

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return found  # ast.parse accepted it; nothing more to learn here
    for tok in tokens:
        own = tok.type in (middle, end)  # this f-string's own text: only the enclosing ones constrain it
        enclosing = quotes[:-1] if own else quotes
        if enclosing:
            if any(q in tok.string for q in enclosing):
                report(tok, "reusing the enclosing quote inside the braces")
            elif "\\" in tok.string and (not own or len(quotes) > 1):
                report(tok, "a backslash inside the braces")
            elif tok.type == tokenize.COMMENT:
                report(tok, "a comment inside the braces")
            elif tok.type in (tokenize.NL, tokenize.NEWLINE) and any(len(q) == 1 for q in enclosing):
                report(tok, "a line break inside the braces of a single-quoted f-string")
        if tok.type == start:
            quotes.append(tok.string.lstrip("rRfFbBuU"))
        elif tok.type == end and quotes:
            quotes.pop()
    return found
