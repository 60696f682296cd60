"""Read the pod's shell command the way `sh -c` would, for the few constructs a job needs.

Understood: `cd DIR`, `mkdir [-p] DIR`, one `python3 SCRIPT ARGS...` (or `python`, `python3.10`, a
path to one), `&&` / `;` between them, stdout redirects `>` / `>>`, `2>` / `2>&1`, and a pipe into
`tee [-a] FILE...`. Anything else is reported, not guessed at. Paths come out absolute, as the pod sees them.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

__all__ = ["OUTPUT_OPTIONS", "JobCommand", "parse_command"]

_PYTHON = re.compile(r"^python(3(\.\d+)?)?$")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
_SEPARATORS = {"&&", ";", "||"}
_REDIRECTS = {">", ">>", ">|", "&>", "<", ">&"}
# Script options that name a file the script writes itself.
OUTPUT_OPTIONS = ("-o", "--output", "--out", "--output-file")


@dataclass
class JobCommand:
    """The parts of the command the pre-flight checks and the rehearsal replays."""

    raw: str
    workdir: str  # where the python command runs (after any `cd`)
    interpreter: str | None = None
    interpreter_options: list[str] = field(default_factory=list)
    script: str | None = None  # absolute path of the script as the pod sees it
    args: list[str] = field(default_factory=list)  # arguments after the script, verbatim
    stdout_files: list[tuple[str, bool]] = field(default_factory=list)  # (path, append) for stdout
    stderr_to_stdout: bool = False
    stderr_file: str | None = None
    tee_files: list[tuple[str, bool]] = field(default_factory=list)
    mkdirs: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # NAME=value assignments before the interpreter
    problems: list[str] = field(default_factory=list)  # constructs this reader does not replay

    def resolve(self, path: str) -> str:
        """An absolute pod path for a path as written in the command."""
        return posixpath.normpath(posixpath.join(self.workdir, path))

    def option_value(self, *names: str) -> str | None:
        """The value of the first `--name VALUE` or `--name=VALUE` among the script's arguments."""
        for i, arg in enumerate(self.args):
            for name in names:
                if arg == name and i + 1 < len(self.args):
                    return self.args[i + 1]
                if arg.startswith(name + "=") and name.startswith("--"):
                    return arg[len(name) + 1 :]
        return None

    @property
    def written_files(self) -> list[str]:
        """Every file the command writes: redirect and tee targets, and the script's output option."""
        out = [p for p, _ in self.stdout_files] + [p for p, _ in self.tee_files]
        own = self.option_value(*OUTPUT_OPTIONS)
        if own is not None:
            out.append(self.resolve(own))
        return list(dict.fromkeys(out))


def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def parse_command(command: str | list[str], workdir: str) -> JobCommand:
    """Parse a pod command (a shell string, or an argv list run without a shell)."""
    if isinstance(command, list):
        if len(command) >= 3 and posixpath.basename(command[0]) in ("sh", "bash") and command[1] == "-c":
            return parse_command(command[2], workdir)
        raw = shlex.join(command)
        words: list[str] = list(command)  # no shell: '>' would be a literal argument
        job = JobCommand(raw=raw, workdir=workdir)
        _simple(job, words, redirects=[], pipe_to=[])
        return job
    job = JobCommand(raw=command, workdir=workdir)
    try:
        tokens = _tokens(command)
    except ValueError as exc:  # unbalanced quotes
        job.problems.append(f"cannot split the command: {exc}")
        return job
    # Split into ';'/'&&' separated pipelines, each a list of '|'-separated simple commands.
    pipelines: list[list[list[str]]] = [[[]]]
    for tok in tokens:
        if tok in _SEPARATORS:
            if tok == "||":
                job.problems.append("'||' (run on failure) is not replayed")
            pipelines.append([[]])
        elif tok == "|":
            pipelines[-1].append([])
        elif tok in ("&", "(", ")", "|&"):
            job.problems.append(f"shell construct {tok!r} is not replayed")
        else:
            pipelines[-1][-1].append(tok)
    for pipeline in pipelines:
        stages = [s for s in pipeline if s]
        if stages:
            _pipeline(job, stages, command)
    return job


def _split_redirects(job: JobCommand, stage: list[str], raw: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Separate words from (operator, target) redirects; a 1/2 glued to the operator is its fd."""
    words: list[str] = []
    redirects: list[tuple[str, str]] = []
    i = 0
    while i < len(stage):
        tok = stage[i]
        nxt = stage[i + 1] if i + 1 < len(stage) else None
        if tok in ("1", "2") and nxt in _REDIRECTS and f"{tok}{nxt}" in raw:
            target = stage[i + 2] if i + 2 < len(stage) else ""
            redirects.append((tok + nxt, target))
            i += 3
            continue
        if tok in _REDIRECTS:
            redirects.append((tok, nxt or ""))
            i += 2
            continue
        words.append(tok)
        i += 1
    return words, redirects


def _pipeline(job: JobCommand, stages: list[list[str]], raw: str) -> None:
    head_words, head_redirects = _split_redirects(job, stages[0], raw)
    tail: list[tuple[list[str], list[tuple[str, str]]]] = [_split_redirects(job, s, raw) for s in stages[1:]]
    if not head_words:
        return
    name = head_words[0]
    if name == "cd" and not tail:
        if len(head_words) == 2:
            job.workdir = job.resolve(head_words[1])
        else:
            job.problems.append(f"'cd' with {len(head_words) - 1} arguments is not replayed")
        return
    if name == "mkdir" and not tail:
        job.mkdirs.extend(job.resolve(w) for w in head_words[1:] if not w.startswith("-"))
        return
    # `NAME=value python3 ...` and `env NAME=value python3 ...`: the rehearsal passes them on.
    if name == "env":
        head_words = head_words[1:]
    while head_words and _ASSIGNMENT.match(head_words[0]):
        key, _, value = head_words.pop(0).partition("=")
        job.env[key] = value
    if not head_words:
        return
    name = head_words[0]
    if not _PYTHON.match(posixpath.basename(name)):
        job.problems.append(f"'{name}' is not a python interpreter and is not replayed")
        return
    if job.interpreter is not None:
        job.problems.append("a second python command is not replayed")
        return
    pipe_to: list[list[str]] = []
    for words, redirects in tail:
        pipe_to.append(words)
        _apply_redirects(job, redirects)
    _simple(job, head_words, head_redirects, pipe_to)


def _simple(
    job: JobCommand, words: list[str], redirects: list[tuple[str, str]], pipe_to: list[list[str]]
) -> None:
    """The python command itself: interpreter, its options, the script, the script's arguments."""
    if not words or not _PYTHON.match(posixpath.basename(words[0])):
        job.problems.append(f"the command does not start with a python interpreter: {words[:1]}")
        return
    job.interpreter = words[0]
    i = 1
    while i < len(words) and words[i].startswith("-"):
        opt = words[i]
        if opt in ("-m", "-c"):
            job.problems.append(f"'python {opt}' runs no script file")
            return
        job.interpreter_options.append(opt)
        i += 2 if opt in ("-W", "-X") else 1
    if i >= len(words):
        job.problems.append("the python command names no script")
        return
    job.script = job.resolve(words[i])
    job.args = words[i + 1 :]
    _apply_redirects(job, redirects)
    for stage in pipe_to:
        if stage and stage[0] == "tee":
            append = "-a" in stage[1:] or "--append" in stage[1:]
            job.tee_files.extend((job.resolve(w), append) for w in stage[1:] if not w.startswith("-"))
        else:
            job.problems.append(f"piping into {stage[:1]} is not replayed")


def _apply_redirects(job: JobCommand, redirects: list[tuple[str, str]]) -> None:
    for op, target in redirects:
        if not target:
            job.problems.append(f"redirect {op!r} without a target")
        elif op in ("2>&", ">&") and target == "1":
            job.stderr_to_stdout = True
        elif op in ("2>", "2>>"):
            job.stderr_file = job.resolve(target)
        elif op in (">", ">|", "1>", "1>|", "&>"):
            job.stdout_files.append((job.resolve(target), False))
            job.stderr_to_stdout = job.stderr_to_stdout or op == "&>"
        elif op in (">>", "1>>"):
            job.stdout_files.append((job.resolve(target), True))
        elif op == "<":
            job.problems.append("input redirect '<' is not replayed")
        else:
            job.problems.append(f"redirect {op!r} {target!r} is not replayed")
