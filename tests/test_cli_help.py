"""Help is written for people: a top-level description with examples, whole method descriptions, no RST."""

from __future__ import annotations

import pytest

from calbench.cli import build_parser, main


def test_top_level_help_is_complete_sentences_with_examples(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert "stated confidence" in out and "examples:" in out and "calbench show" in out
    assert "commands/<name>.py" not in out and "defines" not in out  # not the developer docstring


def test_no_rst_markup_in_any_help(capsys):
    parser = build_parser()
    texts = [parser.format_help()]
    sub = next(a for a in parser._actions if hasattr(a, "choices") and isinstance(a.choices, dict))
    texts += [p.format_help() for p in sub.choices.values()]
    for text in texts:
        assert "``" not in text and ":func:" not in text and ":class:" not in text, text[:300]


def test_list_methods_prints_whole_descriptions(capsys):
    assert main(["eval", "--list-methods"]) == 0
    out = capsys.readouterr().out
    assert "only the confidence is generated" in out  # two-stage's description was cut mid-sentence
    assert "``" not in out
    entries = []
    for line in out.splitlines():
        if line.startswith(" ") and entries:
            entries[-1] += " " + line.strip()
        else:
            entries.append(line.strip())
    assert len(entries) >= 7
    for entry in entries:  # every description is whole: it ends a sentence
        assert entry.endswith("."), entry
