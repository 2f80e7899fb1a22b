"""The ``calbench`` command line. Each sub-command lives in ``calbench/commands/<name>.py`` and defines
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed args and
returning an exit code)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from calbench import __version__


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback, exit code 2."""


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (the option and what is wrong), exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    from calbench import commands

    parser = Parser(prog="calbench", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"calbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"calbench.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from calbench.records import DataError
    from calbench.rundir import RunFolderError
    from calbench.tasks import TaskError

    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for a resume hint
    try:
        return int(args.func(args) or 0)
    except (UserError, DataError, TaskError, RunFolderError, FileNotFoundError) as e:
        print(f"calbench {args.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ncalbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
