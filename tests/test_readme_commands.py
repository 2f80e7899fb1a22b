"""Every `calbench` command in the README's shell blocks parses as written (sub-command and flags exist), and the
cheap ones (tasks, trainers, study plan, lmeval-path) run and exit 0. The ones that evaluate or train a model
were run by hand (see the closing notes); placeholders such as RUN_A are not real paths and are only parsed."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CHEAP = ("tasks", "trainers", "lmeval-path")


def readme_commands() -> list[list[str]]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```bash\n(.*?)```", text, re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split("  #")[0].strip()
            m = re.search(r"(?:^|\s|\.venv/bin/)calbench (.*)$", line)
            if not line or not m or line.startswith(("lm-eval", "make")):
                continue
            argv = shlex.split(m.group(1).replace("$(calbench lmeval-path)", "x"))
            commands.append([a for a in argv if a != "[...]"])
    return commands


def test_the_readme_has_commands_to_check():
    subs = {c[0] for c in readme_commands()}
    assert {"eval", "train", "study", "leaderboard", "report", "calibrate", "import-lmeval"} <= subs


@pytest.mark.parametrize("argv", readme_commands(), ids=lambda a: " ".join(a)[:60])
def test_each_readme_command_parses(argv):
    from calbench.cli import build_parser

    args = build_parser().parse_args([a.split("|")[0] for a in argv])  # "platt|temperature|...": the first choice
    assert getattr(args, "func", None) is not None


@pytest.mark.slow
def test_the_cheap_readme_commands_run():
    ran = 0
    for argv in readme_commands():
        if argv[0] in CHEAP or argv[:2] == ["study", "plan"]:
            done = subprocess.run(
                [sys.executable, "-m", "calbench", *argv], cwd=REPO, capture_output=True, text=True, timeout=300
            )
            assert done.returncode == 0, (argv, done.stderr[-2000:])
            ran += 1
    assert ran >= 3
