"""The `chatcert` command: parses options and hands over to the library. No check logic here."""

from __future__ import annotations

import argparse
import importlib
import re
import sys
from collections.abc import Sequence

from chatcert import __version__, interrupt
from chatcert.errors import ChatcertError, did_you_mean

__all__ = ["main"]

# Each module in chatcert._cli registers one sub-command: register(subparsers) sets func=run.
_COMMANDS = ("certify", "checks", "mock", "bench", "preflight", "replay")


_CHOICE = re.compile(r"invalid choice: '(?P<given>[^']*)' \(choose from (?P<valid>.*)\)$")
_UNRECOGNIZED = re.compile(r"unrecognized arguments: (?P<given>.*)$")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse prints usage plus a line; we keep to one clear line and exit 2.
        self.exit(2, f"chatcert: error: {message}{self._suggestion(message)} (see '{self.prog} --help')\n")

    def _suggestion(self, message: str) -> str:
        """'; did you mean ...?' for a mistyped choice or option (argparse itself says nothing)."""
        choice = _CHOICE.search(message)
        if choice:
            valid = re.findall(r"'([^']*)'", choice["valid"])
            return did_you_mean(choice["given"], valid)
        unknown = _UNRECOGNIZED.search(message)
        if unknown:
            # argparse reports a sub-command's unknown option from the top parser: look in every parser.
            commands: dict[str, argparse.ArgumentParser] = {}
            for action in self._actions:
                if isinstance(action, argparse._SubParsersAction):
                    commands.update(action.choices)
            parsers = [self, *commands.values()]
            options = [o for parser in parsers for action in parser._actions for o in action.option_strings]
            flags = [word.split("=")[0] for word in unknown["given"].split() if word.startswith("--")]
            if not flags:
                return ""
            # A real option of another command (`certify --defect`): say whose, not "did you mean" itself.
            owners = [
                name
                for name, parser in commands.items()
                if any(flags[0] in action.option_strings for action in parser._actions)
            ]
            if owners:
                return f"; {flags[0]} is an option of " + " and ".join(f"'chatcert {o}'" for o in owners)
            return did_you_mean(flags[0], options)
        return ""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="chatcert",
        description="Contract tests, conformance certification and latency benchmarks for "
        "OpenAI-compatible (vision) chat-completions endpoints.",
    )
    parser.add_argument("--version", action="version", version=f"chatcert {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in _COMMANDS:
        try:
            module = importlib.import_module(f"chatcert._cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"chatcert._cli.{name}":
                raise
            continue
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    # First thing: a signal while the sub-commands are still being imported ends cleanly too.
    previous = interrupt.install()
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        if not getattr(args, "command", None):
            parser.print_help()
            return 2
        code: int = args.func(args)
    except ChatcertError as exc:
        print(f"chatcert: {exc}", file=sys.stderr)
        return exc.exit_code
    except interrupt.Interrupted as exc:
        print(f"chatcert: interrupted ({exc.signame})", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("chatcert: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `chatcert checks | head`: the reader left; nothing is wrong with the run.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:  # the harness broke: one line, no traceback
        print(f"chatcert: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 3
    finally:
        interrupt.restore(previous)
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
