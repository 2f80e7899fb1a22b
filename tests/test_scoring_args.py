"""The scoring options are declared once (``argcheck.add_scoring_args``) and read once
(``argcheck.scoring_settings``) by every command that scores."""

from __future__ import annotations

import argparse

import pytest

from calbench.argcheck import add_scoring_args, scoring_settings
from calbench.errors import UserError


def test_scoring_settings_are_the_library_keywords():
    p = argparse.ArgumentParser()
    add_scoring_args(p)
    args = p.parse_args(
        ["--policy", "impute_mean", "--bins", "15", "--eps", "0.01", "--resamples", "50", "--seed", "3"]
    )
    assert scoring_settings(args) == {"policy": "impute_mean", "bins": 15, "eps": 0.01, "n_resamples": 50, "seed": 3}
    with pytest.raises(UserError, match="--eps"):
        scoring_settings(p.parse_args(["--eps", "0.7"]))
    sub = argparse.ArgumentParser()
    add_scoring_args(sub, ("resamples", "seed"))
    assert scoring_settings(sub.parse_args([])) == {"n_resamples": 1000, "seed": 0}
    with pytest.raises(ValueError, match="unknown scoring option"):
        add_scoring_args(argparse.ArgumentParser(), ("nope",))


@pytest.mark.parametrize(
    "command, options",
    [
        ("eval", ("--policy", "--bins", "--eps", "--resamples", "--seed")),
        ("score", ("--policy", "--bins", "--eps", "--resamples", "--seed")),
        ("import-lmeval", ("--policy", "--bins", "--eps", "--resamples", "--seed")),
        ("report", ("--resamples", "--seed")),
    ],
)
def test_commands_share_the_scoring_options(capsys, command, options):
    from calbench.cli import main

    with pytest.raises(SystemExit):
        main([command, "--help"])
    out = capsys.readouterr().out
    for option in options:
        assert f"{option} " in out
    assert "bootstrap resamples (default: 1000)" in out
