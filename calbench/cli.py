"""The ``calbench`` command line. Each sub-command lives in ``calbench/commands/<name>.py`` and defines
``register(subparsers)``, which adds its parser and sets ``func`` (a callable taking the parsed args and
returning an exit code)."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from calbench.commands import help_text
from calbench.errors import UserError
from calbench.version import __version__


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error (the option and what is wrong), exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


DESCRIPTION = """\
calbench: does a language model's stated confidence match how often it is right? Evaluate it on QA tasks
(calibration metrics with 95 % bootstrap intervals), read the answers, compare runs, and train models whose
confidence can be trusted."""

EPILOG = """\
examples:
  calbench tasks                                          list the tasks
  calbench eval --task triviaqa --limit 200 --out runs/tqa
  calbench show runs/tqa --confident-wrong                read the confidently wrong answers
  calbench score runs/tqa --bins 11                       recompute the metrics of a run
  calbench report runs/tqa runs/other --out report.html   compare runs

Run `calbench COMMAND --help` for the options of a command."""


def build_parser() -> argparse.ArgumentParser:
    from calbench import commands

    parser = Parser(
        prog="calbench", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"calbench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"calbench.commands.{info.name}")
        module.register(sub)
    for choice in sub._choices_actions:  # the one-line help of each command in the top-level listing
        choice.help = help_text(choice.help)
    for p in sub.choices.values():
        p.description = help_text(p.description)
        for action in p._actions:
            action.help = help_text(action.help) if action.help != argparse.SUPPRESS else action.help
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    args.argv = list(sys.argv[1:] if argv is None else argv)  # the command line, for a resume hint
    try:
        return int(args.func(args) or 0)
    except (UserError, FileNotFoundError) as e:  # every calbench.errors class is a UserError
        message = e.message(getattr(args, "field_options", None)) if isinstance(e, UserError) else str(e)
        print(f"calbench {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\ncalbench {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
