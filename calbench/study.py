"""Studies: an experiment as one YAML file that calbench plans, runs and resumes (``calbench study``).

A study names a base model, optionally a training run, the fixed answer sets every arm rates, the evaluations of
the trained model on them (in-domain, calibration, unseen domains), checkpoints, post-hoc scalers, and the outputs
(comparison tables, reports, level gaps, the KL optimum). :func:`load` reads and checks the file (every error
names the file and the field); :func:`plan` expands it into steps, each an ordinary calbench command writing an
ordinary run folder (so ``show``, ``score``, ``report`` and the leaderboard read them) or an output file;
:func:`run` runs the steps that are not done, stage by stage. The format is in docs/studies.md.

Done is read from the folders, not from a log: an evaluation is done when its run folder is complete with the
planned number of questions and methods (a folder copied back from another machine counts), a training when its
record (``summary.json``) is in the results folder, a scaler when its run folder is complete. Each finished step
records its command and the sha256 of its input files in ``study_state.json`` beside the run folders; a done step
whose command or inputs changed since is refused, with the difference named. Outputs are rebuilt whenever the
``tables`` stage runs. Commands run as ``python -m calbench ...`` subprocesses, one at a time, in the stages'
order; an interrupted study resumes where it stopped (an interrupted evaluation resumes inside its run folder).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from calbench.errors import UserError
from calbench.runs import MANIFEST_FILE, find_samples_file, has_manifest, manifest_path, parse_ref
from calbench.runs import display_path as _rel

__all__ = ["STAGES", "Step", "Study", "StudyError", "load", "plan", "plan_text", "run"]

#: The stages in the order they run; ``--stage NAME`` runs one.
STAGES = ("answers", "probes", "train", "evaluate", "unseen", "checkpoints", "scalers", "tables")
STATE_FILE = "study_state.json"
EVAL_OPTIONS = {
    "judge_containment": bool,
    "seed": int,
    "resamples": int,
    "batch_size": int,
    "chunk_size": int,
    "dtype": str,
    "device": str,
    "quiet": bool,
    "answered_only": bool,
}
TRAIN_RECORD = ("config.yaml", "train_log.jsonl", "training_curve.png", "summary.json")


class StudyError(UserError):
    """A study file that cannot be run as written, or a step whose inputs changed; the message names the file
    and the field or the step."""


# -- the file ------------------------------------------------------------------------------------------------------


@dataclass
class Study:
    path: Path  # the study file
    name: str
    model: str
    results: Path  # the run folders and outputs
    work: Path  # training output and exported checkpoints (large, not committed)
    spec: dict[str, Any]
    description: str = ""
    eval_options: dict[str, Any] = field(default_factory=dict)

    def ref(self, value: str) -> Path:
        """A run folder or file named in the study: relative to the results folder."""
        return Path(os.path.normpath(self.results / value))

    def readout(self, value: str) -> str:
        """``RUN#METHOD`` with RUN resolved like :meth:`ref`, written relative to the working folder (as
        reports and tables print it)."""
        run, method = parse_ref(value)
        if method is None:
            raise StudyError(f"{self.path}: {value!r} is not RUN#METHOD")
        return f"{_rel(self.ref(str(run)))}#{method}"

    def arm(self, value: str) -> str:
        """A report's arm: ``RUN#METHOD`` or a whole ``RUN`` (every method), resolved like :meth:`readout`."""
        return self.readout(value) if "#" in value else _rel(self.ref(value))

    def work_of(self, training: str) -> Path:
        return self.work / training


class _Fields:
    """Reads one mapping of the study file; every error names the file and the field's path."""

    used: set[str]

    def __init__(self, path: Path, where: str, data: Any):
        if not isinstance(data, dict):
            raise StudyError(f"{path}: {where or 'the file'} must be a mapping, got {type(data).__name__}")
        self.path, self.where, self.data, self.used = path, where, data, set()

    def key(self, k: str) -> str:
        return f"{self.where}.{k}" if self.where else k

    def get(self, k: str, kind: type | tuple = str, default: Any = None, required: bool = False) -> Any:
        self.used.add(k)
        if k not in self.data or self.data[k] is None:
            if required:
                raise StudyError(f"{self.path}: {self.key(k)} is required")
            return default
        v = self.data[k]
        if kind is list:
            v = [v] if isinstance(v, str) else v
            if not isinstance(v, list) or not all(isinstance(x, (str, int, float)) for x in v):
                raise StudyError(f"{self.path}: {self.key(k)} must be a list, got {v!r}")
            return v
        if kind is float and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
            want = kind.__name__ if isinstance(kind, type) else " or ".join(t.__name__ for t in kind)
            raise StudyError(f"{self.path}: {self.key(k)} must be {want}, got {v!r}")
        return v

    def sub(self, k: str, required: bool = False) -> _Fields | None:
        self.used.add(k)
        if k not in self.data or self.data[k] is None:
            if required:
                raise StudyError(f"{self.path}: {self.key(k)} is required")
            return None
        return _Fields(self.path, self.key(k), self.data[k])

    def items(self, k: str) -> list[_Fields]:
        """A list of mappings under ``k`` (empty when absent)."""
        self.used.add(k)
        v = self.data.get(k) or []
        if isinstance(v, dict):
            v = [v]
        if not isinstance(v, list):
            raise StudyError(f"{self.path}: {self.key(k)} must be a list of mappings")
        return [_Fields(self.path, f"{self.key(k)}[{i}]", x) for i, x in enumerate(v)]

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise StudyError(f"{self.path}: unknown field {self.key(unknown[0])} (see docs/studies.md)")


def load(path: str | Path) -> Study:
    """Read and check a study file."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise StudyError(f"{path}: no such study file") from None
    except yaml.YAMLError as err:
        raise StudyError(f"{path}: not valid YAML: {err}") from None
    top = _Fields(path, "", data)
    name = top.get("study", required=True)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        raise StudyError(f"{path}: study must be a plain name (letters, digits, . _ -), got {name!r}")
    eval_options = _eval_options(top.sub("eval_options"))
    study = Study(
        path=path,
        name=name,
        model=top.get("model", required=True),
        description=top.get("description", default=""),
        results=Path(os.path.normpath(path.parent / top.get("results", default="."))),
        work=Path(top.get("work", default=f"runs/studies/{name}")),
        spec={},
        eval_options=eval_options,
    )
    top.get("compress", bool)
    top.get("name")  # the short name of the systems it trains (leaderboards); read by calbench.reporting.names
    study.spec = {"compress": top.data.get("compress", True)}
    # a study committed while it runs over several sessions (its later steps not made yet)
    study.spec["in_progress"] = top.get("in_progress", bool, default=False)
    study.spec["trainings"] = [_training(f) for f in top.items("training")]
    tnames = [t["name"] for t in study.spec["trainings"]]
    if len(set(tnames)) < len(tnames):
        raise StudyError(f"{path}: two trainings are named {next(n for n in tnames if tnames.count(n) > 1)!r}")
    for i, t in enumerate(study.spec["trainings"]):
        if t["continue_from"] in tnames[i:]:
            raise StudyError(
                f"{path}: training[{i}].continue_from must name an earlier training "
                f"({', '.join(tnames[:i]) or 'none'}), a study file or a trainer folder"
            )
        if t["start_from"] and t["start_from"]["training"] not in tnames[:i]:
            raise StudyError(
                f"{path}: training[{i}].start_from.training must name an earlier training "
                f"({', '.join(tnames[:i]) or 'none'})"
            )
    study.spec["answers"] = _answers(top.sub("answers"))
    study.spec["preregistration"] = _preregistration(top.sub("preregistration"))
    fresh = top.sub("fresh")
    study.spec["fresh"] = None
    if fresh:
        study.spec["fresh"] = {
            "against": fresh.get("against", list, required=True),
            "except": fresh.get("except", list, default=[]),
        }
        fresh.done()
    names = set(study.spec["answers"])
    study.spec["evaluations"] = [_evaluation(f, names) for f in top.items("evaluations")]
    study.spec["checkpoints"] = [_checkpoint(f, names) for f in top.items("checkpoints")]
    study.spec["probes"] = [_probe(f, names) for f in top.items("probes")]
    if study.spec["checkpoints"] and not tnames:
        raise StudyError(f"{path}: checkpoints need a training section")
    for i, e in enumerate(study.spec["evaluations"]):
        if e["adapter"] and not tnames:
            raise StudyError(
                f"{path}: evaluations[{i}] rates the trained model, but the study has no training "
                "section (set adapter: false for the base model)"
            )
        if isinstance(e["adapter"], str) and e["adapter"].split("/")[0] not in tnames:
            raise StudyError(
                f"{path}: evaluations[{i}].adapter: {e['adapter']!r} names no training "
                f"({', '.join(tnames)}); write TRAINING or TRAINING/PATH-IN-ITS-WORK-FOLDER"
            )
    study.spec["scalers"] = [_scaler(f) for f in top.items("scalers")]
    study.spec["tables"] = []
    for f in top.items("tables"):
        study.spec["tables"].append({"out": f.get("out", required=True), "runs": f.get("runs", list, required=True)})
        f.done()
    study.spec["reports"] = []
    for f in top.items("reports"):
        study.spec["reports"].append(
            {
                "out": f.get("out", required=True),
                "arms": f.get("arms", list, required=True),
                "sample_pages": f.get("sample_pages", bool, default=False),
                "dedupe_figures": f.get("dedupe_figures"),
            }
        )
        f.done()
        for a in study.spec["reports"][-1]["arms"]:
            study.arm(a)
    study.spec["level_gaps"] = []
    for f in top.items("level_gaps"):
        readouts = f.get("readouts", list) or [f.get("readout", required=not f.data.get("readouts"))]
        f.get("readout")
        study.spec["level_gaps"].append(
            {
                "out": f.get("out", required=True),
                "readouts": readouts,
                "several": "readouts" in f.data,
                "scale": f.get("scale", default="0-10"),
            }
        )
        f.done()
        for a in readouts:
            study.readout(a)
    study.spec["baseline_table"] = []
    for f in top.items("baseline_table"):
        study.spec["baseline_table"].append(
            {
                "out": f.get("out", required=True),
                "root": f.get("root", default="."),
                "min_parse_rate": f.get("min_parse_rate", float, default=0.9),
            }
        )
        f.done()
    study.spec["kl_optimum"] = []
    for f in top.items("kl_optimum"):
        pols = []
        for p in f.items("policies"):
            pols.append({"readout": p.get("readout", required=True), "caption": p.get("caption")})
            p.done()
        study.spec["kl_optimum"].append(
            {
                "out": f.get("out", required=True),
                "posterior": f.get("posterior", required=True),
                "reference": f.get("reference", required=True),
                "betas": [float(b) for b in f.get("betas", list, default=[0, 0.02])],
                "policies": pols,
            }
        )
        f.done()
    study.spec["seeds"] = []
    for f in top.items("seeds"):
        refs = []
        for r in f.items("references"):
            arm, best = r.get("arm"), r.get("best_of", list)
            if bool(arm) == bool(best):
                raise StudyError(f"{path}: {r.key('arm')}: give either arm (RUN#METHOD) or best_of (a list of runs)")
            refs.append({"label": r.get("label", required=True), "arm": arm, "best_of": best or []})
            r.done()
        study.spec["seeds"].append(
            {
                "out": f.get("out", required=True),
                "title": f.get("title", default=""),
                "trained": f.get("trained", list, required=True),
                "seeds": f.get("seeds", list),
                "references": refs,
                "metrics": f.get("metrics", list, default=["auroc", "brier", "ece", "log_score"]),
            }
        )
        f.done()
        for a in study.spec["seeds"][-1]["trained"] + [r["arm"] for r in refs if r["arm"]]:
            study.readout(a)
    study.spec["transfer"] = []
    for f in top.items("transfer"):
        tasks = []
        for t in f.items("tasks"):
            tasks.append(
                {
                    "task": t.get("task", required=True),
                    "untrained": t.get("untrained", required=True),
                    "trained": t.get("trained", list, required=True),
                    "carried_over": t.get("carried_over", list, default=[]),
                }
            )
            t.done()
            for a in [tasks[-1]["untrained"], *tasks[-1]["trained"]]:
                study.readout(a)
        study.spec["transfer"].append(
            {"out": f.get("out", required=True), "title": f.get("title", default=""), "tasks": tasks}
        )
        f.done()
    top.done()
    outs = [s.out for s in plan(study) if s.kind != "copy"]
    dup = next((o for o in outs if outs.count(o) > 1), None)
    if dup is not None:
        raise StudyError(f"{path}: two steps write {_rel(dup)}")
    return study


def _eval_options(opts: _Fields | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if opts:
        for k, kind in EVAL_OPTIONS.items():
            if (v := opts.get(k, kind)) is not None:
                out[k] = v
        opts.done()
    return out


def _training(f: _Fields) -> dict:
    settings = f.sub("settings")
    start = f.sub("start_from")
    t = {
        "name": f.get("name", default="train"),
        "trainer": f.get("trainer", required=True),
        "task": f.get("task", required=True),
        "config": f.get("config"),
        "record": f.get("record"),
        "continue_from": f.get("continue_from"),
        "adapter": f.get("adapter"),
        "keep_answers": f.get("keep_answers", bool, default=False),
        "settings": dict(settings.data) if settings else {},
        "start_from": None,
    }
    t["record"] = t["record"] or t["name"]
    if settings:
        settings.used |= set(settings.data)
    if start:
        t["start_from"] = {
            "training": start.get("training", required=True),
            "checkpoint": start.get("checkpoint", int, required=True),
        }
        start.done()
    f.done()
    return t


def _preregistration(f: _Fields | None) -> dict | None:
    if f is None:
        return None
    out = {
        "commit": str(f.get("commit", required=True)),
        "file": f.get("file", required=True),
        "frozen": f.get("frozen", list, default=[]),
    }
    if not re.fullmatch(r"[0-9a-f]{7,40}", out["commit"]):
        raise StudyError(f"{f.path}: {f.key('commit')} must be a git commit (7-40 hex digits), got {out['commit']!r}")
    f.done()
    return out


def preregistration_line(study: Study) -> str | None:
    """The line every output of a pre-registered study starts with: the pre-registration's file and commit, and
    whether the files it froze are unchanged since that commit (``git diff``; "not checked" without git)."""
    import subprocess

    pre = study.spec.get("preregistration")
    if not pre:
        return None
    base = study.path.parent
    frozen = [os.path.normpath(base / x) for x in pre["frozen"]]
    line = f"Pre-registered in {os.path.normpath(base / pre['file'])}, commit {pre['commit']}"
    if not frozen:
        return line + "."
    try:
        known = subprocess.run(["git", "cat-file", "-e", f"{pre['commit']}^{{commit}}"], capture_output=True)
        diff = subprocess.run(["git", "diff", "--name-only", pre["commit"], "--", *frozen], capture_output=True)
    except OSError:
        return line + f"; its {len(frozen)} frozen file(s) not checked (no git here)."
    if known.returncode or diff.returncode:
        return line + f"; its {len(frozen)} frozen file(s) not checked (the commit is not in this checkout)."
    changed = diff.stdout.decode().split()
    if changed:
        return line + f"; **changed since**: {', '.join(changed)}."
    return line + f"; its {len(frozen)} frozen file(s) (recipes, question ids) unchanged since."


def _answers(f: _Fields | None) -> dict[str, dict]:
    out: dict[str, dict] = {}
    if f is None:
        return out
    for name in list(f.data):
        a = cast(_Fields, f.sub(name))
        out[name] = {
            "task": a.get("task", required=True),
            "split": a.get("split"),
            "limit": a.get("limit", int),
            "ids": a.get("ids"),
            "run": a.get("run"),
            "file": a.get("file"),
            "extends": a.get("extends"),
            "methods": a.get("methods", list, default=[]),
            "figures": a.get("figures", bool, default=True),
            "model": a.get("model"),
            "options": _eval_options(a.sub("options")),
        }
        if bool(out[name]["run"]) == bool(out[name]["file"]):
            raise StudyError(f"{f.path}: {a.key('run')}: give either run (a run folder) or file (an answers file)")
        if out[name]["file"] and (out[name]["methods"] or out[name]["extends"]):
            raise StudyError(f"{f.path}: {a.key('file')}: an answers file is given as it is (no methods, extends)")
        if out[name]["ids"] and out[name]["file"]:
            raise StudyError(f"{f.path}: {a.key('ids')}: an answers file's questions are its own (no ids file)")
        if out[name]["extends"] and not out[name]["methods"]:
            raise StudyError(f"{f.path}: {a.key('extends')} needs methods (the run the study extends)")
        a.done()
    return out


def _evaluation(f: _Fields, answer_sets: set[str]) -> dict:
    e = {
        "answers": f.get("answers", required=True),
        "out": f.get("out", required=True),
        "methods": f.get("methods", list, required=True),
        "stage": f.get("stage", default="evaluate"),
        "first": f.get("first", int),
        "limit": f.get("limit", int),
        "extends": f.get("extends"),
        "figures": f.get("figures", bool, default=True),
        "adapter": f.get("adapter", (bool, str), default=True),
        "probe": f.get("probe"),
        "verbatim": f.get("verbatim", bool, default=False),
        "options": _eval_options(f.sub("options")),
    }
    if e["answers"] not in answer_sets:
        raise StudyError(
            f"{f.path}: {f.key('answers')}: no answer set {e['answers']!r} (answers: "
            f"{', '.join(sorted(answer_sets)) or 'none'})"
        )
    if e["stage"] not in ("answers", "evaluate", "unseen"):
        raise StudyError(f"{f.path}: {f.key('stage')} must be answers, evaluate or unseen, got {e['stage']!r}")
    if e["first"] and e["extends"]:
        raise StudyError(f"{f.path}: {f.key('first')}: first and extends do not go together")
    f.done()
    return e


def _probe(f: _Fields, answer_sets: set[str]) -> dict:
    p = {
        "answers": f.get("answers", required=True),
        "out": f.get("out", required=True),
        "limit": f.get("limit", int),
        "layers": f.get("layers"),
    }
    if p["answers"] not in answer_sets:
        raise StudyError(f"{f.path}: {f.key('answers')}: no answer set {p['answers']!r}")
    f.done()
    return p


def _checkpoint(f: _Fields, answer_sets: set[str]) -> dict:
    c = {
        "step": f.get("step", int, required=True),
        "answers": f.get("answers", required=True),
        "methods": f.get("methods", list, required=True),
        "out": f.get("out", required=True),
        "training": f.get("training"),
        "figures": f.get("figures", bool, default=False),
    }
    if c["answers"] not in answer_sets:
        raise StudyError(f"{f.path}: {f.key('answers')}: no answer set {c['answers']!r}")
    f.done()
    return c


def _scaler(f: _Fields) -> dict:
    s = {
        "fit": f.get("fit", required=True),
        "apply": f.get("apply", required=True),
        "scaler": f.get("scaler", default="platt"),
        "methods": f.get("methods", list, default=[]),
        "stated_scale": f.get("stated_scale"),
        "label": f.get("label"),
        "out": f.get("out", required=True),
        "figures": f.get("figures", bool, default=True),
        "plots": f.get("plots", bool, default=True),
    }
    f.done()
    return s


# -- the steps -----------------------------------------------------------------------------------------------------


@dataclass
class Step:
    stage: str
    kind: str  # eval, train, calibrate, export, probe, copy, output
    out: Path
    argv: list[str] = field(default_factory=list)  # the calbench command (eval, train, calibrate)
    needs: list[Path] = field(default_factory=list)  # inputs that must exist first
    inputs: list[Path] = field(default_factory=list)  # files whose sha256 is part of the step's identity
    expect: dict[str, Any] = field(default_factory=dict)  # what a finished run folder holds (n, methods)
    figures: bool = True
    action: Callable[[], str | None] | None = None  # an output step's writer (returns its text)
    done_file: Path | None = None
    prepare: Callable[[], None] | None = None  # run before the command (a training's starting copy)
    derived_from: Path | None = None  # the run folder whose answers an evaluation rates (its samples are thinned)

    @property
    def label(self) -> str:
        if self.kind == "copy":
            return f"{_rel(self.out)} (a copy of {self.needs[0].name}, extended next)"
        return _rel(self.out)

    def command(self) -> str:
        if self.kind in ("eval", "train", "calibrate", "export", "probe"):
            return "calbench " + " ".join(_quote(a) for a in self.argv)
        if self.kind == "copy":
            return f"copy {_rel(self.needs[0])} to {self.label} (then extended by the next step)"
        return f"write {self.label}"


def _quote(a: str) -> str:
    return a if re.fullmatch(r"[\w@%+=:,./#-]+", a) else "'" + a.replace("'", "'\\''") + "'"


def _samples(run: Path) -> Path:
    """A run folder's samples file, plain or compressed (the plain name while the run does not exist yet)."""
    return find_samples_file(run) or run / "samples.jsonl"


def _eval_flags(study: Study, model: str | None = None, options: dict | None = None) -> list[str]:
    """``--model`` and the eval options as flags; an answer set's own model and options override the study's."""
    out = ["--model", model or study.model]
    for k, v in {**study.eval_options, **(options or {})}.items():
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            out += [flag] if v else []
        else:
            out += [flag, str(v)]
    return out


def _task_flags(a: dict, limit: int | None = None) -> list[str]:
    limit = limit or a["limit"]
    return [
        "--task",
        a["task"],
        *(["--split", a["split"]] if a["split"] else []),
        *(["--ids", _rel(a["ids_path"])] if a.get("ids_path") else []),
        *(["--limit", str(limit)] if limit else []),
    ]


def adapter_path(study: Study, which: bool | str) -> Path | None:
    """The adapter an evaluation rates: ``True`` the first training's, ``"NAME"`` training NAME's,
    ``"NAME/PATH"`` a file under that training's work folder (e.g. ``train/adapter_best``); a training with a
    given ``adapter`` (e.g. one shipped in the repository) uses that."""
    if not which or not study.spec["trainings"]:
        return None
    trainings = {t["name"]: t for t in study.spec["trainings"]}
    name, _, sub = (study.spec["trainings"][0]["name"] if which is True else which).partition("/")
    t = trainings[name]
    if t["adapter"] and not sub:
        return Path(os.path.normpath(study.path.parent / t["adapter"]))
    return study.work_of(name) / (sub or "adapter")


def check_fresh(study: Study) -> dict[str, int]:
    """``fresh``: refuse an answer set whose id file names a question that a committed result under ``against``
    has touched (the run folders and trainer pools there; ``except`` leaves folders out, e.g. the study's own);
    return each checked set's number of questions."""
    from calbench.runs import question_ids_used
    from calbench.tasks import read_id_file

    fresh = study.spec.get("fresh")
    if not fresh:
        return {}
    here = study.path.parent
    used = question_ids_used(
        [here / p for p in fresh["against"]], skip=[here / p for p in fresh["except"]] + [study.results]
    )
    checked = {}
    for name, a in study.spec["answers"].items():
        if not a["ids"]:
            continue
        ids = read_id_file(here / a["ids"])
        seen = [i for i in ids if i in used]
        if seen:
            raise StudyError(
                f"{study.path}: answers.{name}.ids: {len(seen)} of the {len(ids)} questions of {a['ids']} were "
                f"used by a committed result (e.g. {', '.join(seen[:3])}); fresh questions must be new"
            )
        checked[name] = len(ids)
    return checked


def plan(study: Study) -> list[Step]:
    """Every step of the study, in the order :func:`run` takes them."""
    steps: list[Step] = []
    spec = study.spec
    flags = _eval_flags(study)
    answers = {}
    for name, a in spec["answers"].items():
        a = dict(a, path=study.ref(a["run"]) if a["run"] else None)
        a["ids_path"] = Path(os.path.normpath(study.path.parent / a["ids"])) if a["ids"] else None
        a["samples"] = _samples(a["path"]) if a["path"] else Path(os.path.normpath(study.path.parent / a["file"]))
        a["needs"] = manifest_path(a["path"]) if a["path"] else a["samples"]
        answers[name] = a
    for name, a in answers.items():  # an answer set whose run folder the study writes
        if a["methods"]:
            if a["extends"]:
                steps.append(Step("answers", "copy", a["path"], needs=[study.ref(a["extends"])]))
            own = _eval_flags(study, a["model"], a["options"]) if a["model"] or a["options"] else flags
            steps.append(
                Step(
                    "answers",
                    "eval",
                    a["path"],
                    ["eval", *own, "--method", ",".join(a["methods"]), *_task_flags(a), "--out", _rel(a["path"])],
                    expect={"n": a["limit"], "methods": a["methods"]},
                    figures=a["figures"],
                )
            )
    for t in spec["trainings"]:
        if t["adapter"]:
            continue  # a given adapter: nothing to train
        record, work = study.ref(t["record"]), study.work_of(t["name"])
        argv = ["train", "--trainer", t["trainer"], "--model", study.model, "--task", t["task"]]
        inputs, needs, prepare = [], [], None
        if t["config"]:
            cfg = Path(os.path.normpath(study.path.parent / t["config"]))
            argv += ["--config", _rel(cfg)]
            inputs.append(cfg)
        sets = dict(t["settings"])
        if t["continue_from"]:
            sets["continue_from"] = _rel(_continued_work(study, t["continue_from"]))
            needs.append(Path(sets["continue_from"]) / "adapter")
        for k, v in sets.items():
            argv += ["--set", f"{k}={_setting(v)}"]
        argv += ["--out", _rel(work)]
        if t["start_from"]:  # resume another training's checkpoint with other settings, in a copy of its folder
            src = study.work_of(t["start_from"]["training"])
            ckpt = f"step-{t['start_from']['checkpoint']}"
            needs.append(src / "checkpoints" / ckpt)
            argv.append("--resume")
            prepare = _start_from(src, work, ckpt)
        elif (work / "checkpoints").is_dir():
            argv.append("--resume")
        later = [
            study.ref(u["record"]) / "summary.json"
            for u in spec["trainings"]
            if u["start_from"] and u["start_from"]["training"] == t["name"]
        ]
        steps.append(
            Step(
                "train",
                "train",
                record,
                argv,
                needs=needs,
                inputs=inputs,
                done_file=record / "summary.json",
                prepare=prepare,
                expect={"work": work, "keep_answers": t["keep_answers"], "continued_by": later},
            )
        )
    for p in spec["probes"]:  # a probe fitted on an answer set's labelled answers (calbench probe fit)
        a, out = answers[p["answers"]], study.ref(p["out"])
        argv = [
            "probe",
            "fit",
            "--model",
            a["model"] or study.model,
            *_task_flags(a, p["limit"]),
            "--answers",
            _rel(a["samples"]),
            *(["--judge-containment"] if study.eval_options.get("judge_containment") else []),
            *(["--layers", str(p["layers"])] if p["layers"] else []),
            "--out",
            _rel(out),
        ]
        steps.append(Step("probes", "probe", out, argv, needs=[a["needs"]], inputs=[a["samples"]], done_file=out))
    for e in spec["evaluations"]:
        a = answers[e["answers"]]
        out = study.ref(e["out"])
        adapter = adapter_path(study, e["adapter"])
        own = _eval_flags(study, None, e["options"]) if e["options"] else flags
        probe = study.ref(e["probe"]) if e["probe"] else None
        base = [
            "eval",
            *(["--adapter", _rel(adapter)] if adapter else []),
            *own,
            "--method",
            ",".join(e["methods"]),
            *(["--probe", _rel(probe)] if probe else []),
        ]
        given = ["--answers", _rel(a["samples"]), *(["--answers-verbatim"] if e["verbatim"] else [])]
        needs = [a["needs"]] + ([adapter] if adapter else []) + ([probe] if probe else [])
        inputs = [a["samples"]] + ([probe] if probe else [])
        limit = e["limit"] or a["limit"]
        if e["first"]:
            sub = out.with_name(f"{out.name}-{e['first']}")
            steps.append(
                Step(
                    e["stage"],
                    "eval",
                    sub,
                    base + _task_flags(a, e["first"]) + given + ["--out", _rel(sub)],
                    needs=needs,
                    inputs=inputs,
                    expect={"n": e["first"], "methods": e["methods"]},
                    figures=False,
                )
            )
            steps.append(Step(e["stage"], "copy", out, needs=[sub]))
        if e["extends"]:
            steps.append(Step(e["stage"], "copy", out, needs=[study.ref(e["extends"])]))
        steps.append(
            Step(
                e["stage"],
                "eval",
                out,
                base + _task_flags(a, limit) + given + ["--out", _rel(out)],
                needs=needs,
                inputs=inputs,
                expect={"n": limit, "methods": e["methods"]},
                figures=e["figures"],
                derived_from=a["path"],
            )
        )
    for c in spec["checkpoints"]:
        a = answers[c["answers"]]
        tname = c["training"] or spec["trainings"][0]["name"]
        exported = study.work / f"{tname}-checkpoint-{c['step']}" / "adapter"
        steps.append(
            Step(
                "checkpoints",
                "export",
                exported,
                [
                    "checkpoint",
                    "--trainer",
                    next(t["trainer"] for t in spec["trainings"] if t["name"] == tname),
                    _rel(study.work_of(tname)),
                    str(c["step"]),
                    _rel(exported),
                ],
                needs=[study.work_of(tname) / "checkpoints" / f"step-{c['step']}"],
                done_file=exported / "adapter_model.safetensors",
                expect={"serves": study.ref(c["out"])},
            )
        )
        out = study.ref(c["out"])
        steps.append(
            Step(
                "checkpoints",
                "eval",
                out,
                [
                    "eval",
                    "--adapter",
                    _rel(exported),
                    *flags,
                    "--method",
                    ",".join(c["methods"]),
                    *_task_flags(a),
                    "--answers",
                    _rel(a["samples"]),
                    "--out",
                    _rel(out),
                ],
                needs=[exported, a["needs"]],
                inputs=[a["samples"]],
                expect={"n": a["limit"], "methods": c["methods"]},
                figures=c["figures"],
            )
        )
    for s in spec["scalers"]:
        fit, apply, out = study.ref(s["fit"]), study.ref(s["apply"]), study.ref(s["out"])
        argv = [
            "calibrate",
            "--fit",
            _rel(fit),
            "--apply",
            _rel(apply),
            "--scaler",
            s["scaler"],
            *(["--stated-scale", s["stated_scale"]] if s["stated_scale"] else []),
            *(["--label", s["label"]] if s["label"] else []),
            *(["--confidence-methods", ",".join(s["methods"])] if s["methods"] else []),
            *([] if s["plots"] else ["--no-plots"]),
            "--out",
            _rel(out),
        ]
        steps.append(
            Step(
                "scalers",
                "calibrate",
                out,
                argv,
                needs=[manifest_path(fit), manifest_path(apply)],
                inputs=[_samples(fit), _samples(apply)],
                figures=s["figures"],
            )
        )
    steps.sort(key=lambda step: STAGES.index(step.stage))  # stable: the order within a stage is the file's
    for tb in spec["tables"]:
        runs = [study.ref(r) for r in tb["runs"]]
        steps.append(
            Step("tables", "output", study.ref(tb["out"]), action=_tables_action(runs, study.spec["in_progress"]))
        )
    for r in spec["reports"]:
        steps.append(Step("tables", "output", study.ref(r["out"]), action=_report_action(study, r)))
    for g in spec["level_gaps"]:
        steps.append(Step("tables", "output", study.ref(g["out"]), action=_level_gaps_action(study, g)))
    for b in spec["baseline_table"]:
        steps.append(Step("tables", "output", study.ref(b["out"]), action=_baseline_action(study, b)))
    for k in spec["kl_optimum"]:
        steps.append(Step("tables", "output", study.ref(k["out"]), action=_kl_action(study, k)))
    for sd in spec["seeds"]:
        steps.append(Step("tables", "output", study.ref(sd["out"]), action=_seeds_action(study, sd)))
    for tr in spec["transfer"]:
        steps.append(Step("tables", "output", study.ref(tr["out"]), action=_transfer_action(study, tr)))
    return steps


def _setting(v: Any) -> str:
    if isinstance(v, bool):
        return str(v).lower()
    return str(v)


def _continued_work(study: Study, ref: str) -> Path:
    """``continue_from``: an earlier training of this study (its name), another study file (its training's work
    folder) or a trainer output folder."""
    if ref in {t["name"] for t in study.spec["trainings"]}:
        return study.work_of(ref)
    p = Path(os.path.normpath(study.path.parent / ref))
    if p.suffix in (".yaml", ".yml"):
        return load(p).work / "train"
    return p


# -- status --------------------------------------------------------------------------------------------------------


def _manifest(folder: Path) -> dict | None:
    from calbench.runs import Run

    if not has_manifest(folder):
        return None
    try:
        return dict(Run.open(folder).manifest)
    except UserError:
        return None


def status(step: Step, state: dict) -> str:
    """``done``, ``changed: ...``, ``partial: ...``, ``waiting for ...`` or ``to do``."""
    if step.kind == "output":
        return "to do"
    if _is_done(step):
        diff = _changed(step, state)
        return f"changed: {diff}" if diff else "done"
    if step.kind == "eval" and (m := _manifest(step.out)) is not None:
        total = f" of {step.expect['n']}" if step.expect.get("n") else ""
        return f"partial: {_questions_done(step.out)}{total} questions, status {m.get('status')}"
    missing = [p for p in step.needs if not _ready(p)]
    if missing:
        unfinished = " (its run is not complete)" if missing[0].exists() else ""
        return f"waiting for {_rel(missing[0])}{unfinished}"
    return "to do"


def _ready(need: Path) -> bool:
    """An input exists; a run folder's manifest (``run.json``) is ready only once its run is complete, so a step
    never reads a run that is still being written or was interrupted."""
    if not need.exists():
        return False
    return need.name != MANIFEST_FILE or _run_complete(need.parent)


def _run_complete(folder: Path) -> bool:
    m = _manifest(folder)
    return m is not None and m.get("status") == "complete"


def _not_made(study: Study, spec: str) -> bool:
    """A table's arm (``RUN`` or ``RUN#METHOD``) whose run folder is missing or still being written."""
    return not _run_complete(study.ref(str(parse_ref(spec)[0])))


def _questions_done(folder: Path) -> int:
    """How many distinct questions a (partial) run folder's samples cover: a run's manifest states the planned
    count while it runs."""
    from calbench.runs import Run

    try:
        return len({row.get("id") for row in Run.open(folder).rows()})
    except (UserError, OSError):
        return 0


def _is_done(step: Step) -> bool:
    if any(p.exists() for p in step.expect.get("continued_by", [])):
        return True  # a training that a later one resumed from: done when the later one is
    if "serves" in step.expect and _run_complete(step.expect["serves"]):
        return True  # an exported checkpoint whose evaluation is done is not needed again
    if step.done_file is not None:
        return step.done_file.exists()
    if step.kind == "copy":
        return step.out.exists()
    m = _manifest(step.out)
    if m is None or m.get("status") != "complete":
        return False
    if step.expect.get("n") and m.get("n") != step.expect["n"]:
        return False
    return set(step.expect.get("methods", [])) <= set(m.get("methods") or [m.get("method")])


_COMPRESSED = re.compile(r"(samples\.jsonl)\.(xz|gz)$")


def _identity(step: Step) -> dict:
    """The step's command and the sha256 of its input files; a samples file counts by its content, whether it
    is stored compressed or not (the study compresses finished runs)."""
    argv = [_COMPRESSED.sub(r"\1", a) for a in step.argv if a != "--resume"]  # resuming is not an input
    return {"argv": argv, "inputs": {_COMPRESSED.sub(r"\1", _rel(p)): _sha256(p) for p in step.inputs if p.exists()}}


def _sha256(p: Path) -> str:
    from calbench.records import open_bytes

    h = hashlib.sha256()
    with open_bytes(p) as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _changed(step: Step, state: dict) -> str | None:
    if step.kind == "copy":  # the evaluation that extends the copy holds the record
        return None
    rec = state.get(_rel(step.out))
    if rec is None:  # made before the study recorded it (or copied in): trusted as is
        return None
    now = _identity(step)
    if rec["argv"] != now["argv"]:
        old, new = rec["argv"], now["argv"]
        gone = [a for a in old if a not in new]
        added = [a for a in new if a not in old]
        return f"command changed (was {' '.join(gone) or '-'}, now {' '.join(added) or '-'})"
    for p, sha in rec.get("inputs", {}).items():
        if now["inputs"].get(p, sha) != sha:
            return f"input {p} changed since the step ran (sha256 {sha[:12]} -> {now['inputs'][p][:12]})"
    return None


def _state_path(study: Study) -> Path:
    return study.results / STATE_FILE


def _read_state(study: Study) -> dict:
    p = _state_path(study)
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}


def _record(study: Study, step: Step) -> None:
    with _locked(_lock_path(study, "study_state")) as mine:  # runners of disjoint steps share the state file
        assert mine is not None  # a blocking lock is always taken
        state = _read_state(study)
        state[_rel(step.out)] = _identity(step)
        study.results.mkdir(parents=True, exist_ok=True)
        tmp = _state_path(study).with_suffix(f".json.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(dict(sorted(state.items())), indent=1) + "\n", encoding="utf-8")
        tmp.replace(_state_path(study))


def _lock_path(study: Study, name: str) -> Path:
    """A lock file in the study's work folder (never among the committed run folders)."""
    return study.work / "locks" / (re.sub(r"[^A-Za-z0-9._-]+", "_", name) + ".lock")


@contextlib.contextmanager
def _locked(path: Path, wait: bool = True) -> Iterator[bool | None]:
    """An advisory lock (``flock``) held for the block; yields True, or None when ``wait`` is False and another
    process holds it. The kernel drops it when the process dies, so a killed runner leaves no stale lock."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield None
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def plan_text(study: Study, stage: str | None = None) -> str:
    """What ``run`` would do: every step with its status and command; nothing is executed."""
    state = _read_state(study)
    lines = [
        f"study {study.name}: model {study.model}; run folders in {_rel(study.results)}; "
        f"training work in {_rel(study.work)}"
    ]
    if study.description:
        lines.append(study.description)
    if study.spec["in_progress"]:
        lines.append("in progress: committed while it runs over several sessions (rerun to resume)")
    if pre := preregistration_line(study):
        lines.append(pre)
    fresh = check_fresh(study)
    if fresh:
        lines.append(
            "fresh questions checked against every committed result: "
            + ", ".join(f"{k} ({n}, none used before)" for k, n in fresh.items())
        )
    if study.spec["answers"] and not stage:
        lines += ["", "answer sets (every arm rates the same answers):"]
        for name, a in study.spec["answers"].items():
            folder = study.ref(a["run"]) if a["run"] else Path(os.path.normpath(study.path.parent / a["file"]))
            present = has_manifest(folder) if a["run"] else folder.is_file()
            made = "made by stage answers" if a["methods"] else ("given" if present else "given, MISSING")
            size = f"{a['limit']} questions" if a["limit"] else "the whole split"
            if a["ids"]:
                size = f"the questions of {a['ids']}" + (f" (first {a['limit']})" if a["limit"] else "")
            lines.append(f"  {name}: {a['task']} {a['split'] or '(default split)'}, {size}, {_rel(folder)} ({made})")
    counts: dict[str, int] = {}
    for st in STAGES:
        steps = [s for s in plan(study) if s.stage == st]
        if not steps or (stage and st != stage):
            continue
        lines += ["", f"stage {st}:"]
        for s in steps:
            what = status(s, state)
            if s.kind == "output":
                what = "written when the stage runs"
            kind = "waiting" if what.startswith("waiting") else what.split(":")[0]
            counts[kind] = counts.get(kind, 0) + 1
            lines.append(f"  [{what}] {s.label}")
            if not what.startswith("done"):
                lines.append(f"      {s.command()}")
    lines += ["", "steps: " + ", ".join(f"{v} {k}" for k, v in counts.items())]
    return "\n".join(lines) + "\n"


# -- running -------------------------------------------------------------------------------------------------------


def run(
    study: Study,
    stage: str | None = None,
    log: Callable[[str], None] = print,
    runner: Callable[[list[str]], int] | None = None,
    only: list[str] | None = None,
) -> int:
    """Run the steps that are not done (of one stage with ``stage``; of the named steps with ``only``, each the
    name of its run folder or output file); 0 when every step ran or was done. Each step runs under a lock, so
    two runners of one study (e.g. ``--only`` lanes on two cores) never run the same step at once: a step another
    runner holds is skipped with a message."""
    if stage is not None and stage not in STAGES:
        raise StudyError(f"{study.path}: no stage {stage!r} (stages: {', '.join(STAGES)})")
    runner = runner or _subprocess
    state = _read_state(study)
    check_fresh(study)
    steps = [s for s in plan(study) if stage is None or s.stage == stage]
    if only is not None:
        names = {s.out.name for s in steps}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise StudyError(
                f"{study.path}: --only: no step {', '.join(map(repr, unknown))}"
                + (f" in stage {stage!r}" if stage else "")
                + f" (steps: {', '.join(sorted(names))})"
            )
        steps = [s for s in steps if s.out.name in only]
    changed = [(s, status(s, state)) for s in steps if s.kind != "output"]
    changed = [(s, st) for s, st in changed if st.startswith("changed")]
    if changed:
        s, st = changed[0]
        raise StudyError(
            f"{study.path}: step {s.label} ({s.stage}) is done but its {st.removeprefix('changed: ')}; "
            "move its folder away to rerun it, or restore the study file"
        )
    study.results.mkdir(parents=True, exist_ok=True)
    stored: set[Path] = set()  # the run folders compressed (and thinned) as their step finished
    for s in steps:
        st = status(s, state)
        if st == "done":
            continue
        if st.startswith("waiting for"):
            hint = _lost_work_hint(study, s) or "run the stage that makes it, or copy it in"
            log(f"[study] {s.label}: {st}; stopped ({hint})")
            return 1
        with _locked(_lock_path(study, _rel(s.out)), wait=False) as mine:
            if mine is None:
                log(f"[study] {s.label}: another runner is running this step; skipped")
                continue
            if status(s, _read_state(study)) == "done":  # finished by another runner since the check above
                continue
            code = _run_step(study, s, steps, runner, log, stored)
        if code:
            return code
        state = _read_state(study)
    for s in steps:  # the rest, and those finished before (by an earlier run, or copied in)
        if s.out not in stored:
            with _locked(_lock_path(study, _rel(s.out)), wait=False) as mine:
                if mine is not None:  # (a step another runner holds is stored by that runner)
                    _store(study, s, steps)
    return 0


def _lost_work_hint(study: Study, step: Step) -> str | None:
    """A step waiting for a training's adapter whose record says it is done: the work folder (never committed) was
    lost, e.g. on another machine. Name the record to move away so that the study trains it again."""
    missing = {need.parent for need in step.needs if not _ready(need)}
    if not missing:
        return None
    for t in plan(study):  # the whole plan: the training may belong to another stage than the waiting step
        if t.kind == "train" and t.expect["work"] in missing and _is_done(t):
            return (
                f"training {t.out.name} is recorded done ({_rel(t.done_file or t.out)}), but its work folder "
                f"{_rel(t.expect['work'])} has no adapter (work folders are not committed): copy the adapter in, "
                f"or move {_rel(t.out)} away to train it again"
            )
    return None


def _run_step(
    study: Study,
    s: Step,
    steps: list[Step],
    runner: Callable[[list[str]], int],
    log: Callable[[str], None],
    stored: set[Path],
) -> int:
    """One step that is not done (the caller holds its lock): its command, the check that its folder is complete,
    its record, and its folder compressed when no later step reads it."""
    log(f"[study] {s.stage}: {s.command()}")
    if s.kind == "output":
        assert s.action is not None  # every output step has one
        text = s.action()
        s.out.parent.mkdir(parents=True, exist_ok=True)
        if text is not None:
            pre = preregistration_line(study) if s.out.suffix == ".md" else None
            s.out.write_text(f"{pre}\n\n{text}" if pre else text, encoding="utf-8")
        log(f"[study] wrote {s.label}")
        return 0
    if s.kind == "copy":
        shutil.copytree(s.needs[0], s.out)
    else:
        if s.prepare:
            s.prepare()
        code = runner([sys.executable, "-m", "calbench", *s.argv])
        if code:
            log(f"[study] {s.label}: the command exited with {code}; rerun the study to resume")
            return code
        if s.kind == "train":
            _collect_training(study, s)
    if s.kind in ("eval", "calibrate"):
        if not _is_done(s):
            log(f"[study] {s.label}: the command finished but the run folder is not complete")
            return 1
        if not s.figures:
            for png in s.out.glob("*.png"):
                png.unlink()
    if s.kind != "copy":
        _record(study, s)
    if not any(p.parent == s.out for o in steps for p in o.inputs):  # (their commands name its samples file)
        _store(study, s, steps)  # at once: a study stopped later leaves its finished runs compressed
        stored.add(s.out)
    return 0


def _store(study: Study, s: Step, steps: list[Step]) -> None:
    """A finished run folder compressed as committed (unless ``compress: false`` or a later step extends it)."""
    if not study.spec["compress"] or s.kind not in ("eval", "calibrate") or not _is_done(s):
        return
    if _later_extends(s, steps):
        return
    _compress(s.out)
    from calbench.reporting.files import thin_derived_samples

    if s.kind == "calibrate":  # a scaled run keeps only what differs from the run it was applied to
        thin_derived_samples(s.out, s.needs[1].parent)
    elif s.derived_from is not None:  # an evaluation on a run's answers: what differs from that run's records
        thin_derived_samples(s.out, s.derived_from)


def _later_extends(step: Step, steps: list[Step]) -> bool:
    """A subset run copied into a run that a later step still extends stays uncompressed until then."""
    return any(
        o.kind == "copy"
        and step.out in o.needs
        and not _is_done(next(x for x in steps if x.kind == "eval" and x.out == o.out))
        for o in steps
    )


def _subprocess(argv: list[str]) -> int:
    """Run one step's command; Ctrl-C reaches the child too (same process group), which stops resumably."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.call(argv, env=env)


def _start_from(src: Path, work: Path, checkpoint: str) -> Callable[[], None]:
    def copy() -> None:
        if work.exists():
            return  # a started copy resumes from its own last checkpoint
        shutil.copytree(
            src,
            work,
            ignore=lambda d, names: [n for n in names if n != checkpoint] if Path(d).name == "checkpoints" else [],
        )

    return copy


def _collect_training(study: Study, step: Step) -> None:
    """The training's record (config, log, curve, summary; its answers with ``keep_answers``) into the results
    folder; weights stay in the work folder (model weights are never committed)."""
    src = step.expect["work"]
    step.out.mkdir(parents=True, exist_ok=True)
    for name in TRAIN_RECORD:
        if (src / name).exists():
            shutil.copy2(src / name, step.out / name)
    if (src / "adapter_best" / "best.json").exists():  # which step a held-out selection kept
        shutil.copy2(src / "adapter_best" / "best.json", step.out / "best.json")
    if step.expect.get("keep_answers") and (src / "answers.jsonl").exists():
        from calbench.reporting.files import xz_bytes

        (step.out / "answers.jsonl.xz").write_bytes(xz_bytes((src / "answers.jsonl").read_bytes()))


def _compress(folder: Path) -> None:
    """xz the samples (and logs) of a finished run folder, as the committed results keep them."""
    from calbench.reporting.files import compress_file

    for p in [folder / "samples.jsonl", *folder.glob("*.log")]:
        if p.exists() and p.stat().st_size:
            compress_file(p)


# -- outputs -------------------------------------------------------------------------------------------------------


def _tables_action(runs: list[Path], in_progress: bool = False) -> Callable[[], str]:
    def write() -> str:
        from calbench.reporting.tables import load_runs, tables

        found = load_runs(runs, note=lambda m: print(f"[study] {m}", file=sys.stderr), skip_unfinished=in_progress)
        return "\n".join(tables(found)) + "\n"

    return write


def _report_action(study: Study, r: dict) -> Callable[[], str | None]:
    def write() -> None:
        out = study.ref(r["out"])
        from calbench.reporting.files import keep_identical_figures, snapshot_figures

        argv = [sys.executable, "-m", "calbench", "report", *[study.arm(a) for a in r["arms"]], "--out", _rel(out)]
        figures = snapshot_figures(out.with_name(out.stem + "_files"))
        if subprocess.call(argv):
            raise StudyError(f"{study.path}: the report {_rel(out)} failed (command: {' '.join(argv[1:])})")
        if not r["sample_pages"]:  # per-sample pages are MiBs of HTML: `calbench show RUN` renders the same
            files = out.with_name(out.stem + "_files")
            for page in files.glob("samples_*.html"):
                page.unlink()
            text = out.read_text(encoding="utf-8")
            text = re.sub(
                rf"\[table\]\({re.escape(files.name)}/samples_[0-9]+\.html\)",
                "not kept (`calbench show` the run)",
                text,
            )
            out.write_text(text, encoding="utf-8")
        keep_identical_figures(figures)
        if r["dedupe_figures"]:
            from calbench.reporting.files import dedupe_report_figures

            dedupe_report_figures([study.ref(r["dedupe_figures"])])
        return None

    return write


def _level_gaps_action(study: Study, g: dict) -> Callable[[], str]:
    """The level gaps of ``readout``, or of each of ``readouts`` in turn, each followed by a blank line (a readout
    whose run folder is missing is skipped)."""

    def write() -> str:
        from calbench.reporting.level_gaps import text

        texts = [text(study.readout(r), g["scale"]) for r in g["readouts"] if study.ref(str(parse_ref(r)[0])).is_dir()]
        return "".join(t + "\n" for t in texts) if g["several"] else texts[0]

    return write


def _seeds_action(study: Study, sd: dict) -> Callable[[], str]:
    """A trained readout over seeds against each reference (:mod:`calbench.reporting.seeds`); a run folder not
    made yet is named and its reference (or the whole table, for a trained arm) left out."""

    def write() -> str:
        from calbench.reporting.compare import load_arms
        from calbench.reporting.seeds import seed_rows, seed_table

        head = f"# {sd['title']}\n\n" if sd["title"] else ""
        gone = [a for a in sd["trained"] if _not_made(study, a)]
        if gone:
            return head + "Not yet: " + ", ".join(study.readout(a) for a in gone) + " (no complete run folder).\n"
        trained = load_arms(study.readout(a) for a in sd["trained"])[0]
        seeds = sd["seeds"] or [f"seed {i}" for i in range(len(trained))]
        parts = [head]
        for r in sd["references"]:
            specs = [r["arm"]] if r["arm"] else r["best_of"]
            absent = [s for s in specs if _not_made(study, s)]
            parts.append(f"## Against {r['label']}\n\n")
            if absent:
                parts.append("Not yet: " + ", ".join(study.arm(s) for s in absent) + " (no complete run folder).\n\n")
                continue
            arms = load_arms(study.arm(s) for s in specs)[0]
            rows = seed_rows(trained, arms[0] if r["arm"] else arms, sd["metrics"])
            parts.append(seed_table(rows, seeds) + "\n")
        return "".join(parts)

    return write


def _transfer_action(study: Study, tr: dict) -> Callable[[], str]:
    """Unseen domains in the paper's form (:mod:`calbench.reporting.transfer`); a task whose untrained or
    trained run folders are not made yet is named and left out, as is a carried-over baseline not made yet."""

    def write() -> str:
        from calbench.reporting.compare import load_arms
        from calbench.reporting.transfer import TransferTask, transfer_tables

        head = f"# {tr['title']}\n\n" if tr["title"] else ""
        tasks, notes = [], []
        for t in tr["tasks"]:
            gone = [a for a in [t["untrained"], *t["trained"]] if _not_made(study, a)]
            if gone:
                notes.append(f"{t['task']}: not yet, " + ", ".join(gone) + " (no complete run folder)")
                continue
            absent = [c for c in t["carried_over"] if _not_made(study, c)]
            if absent:
                notes.append(f"{t['task']}: carried-over baselines not made yet, left out: " + ", ".join(absent))
            untrained = load_arms([study.readout(t["untrained"])])[0][0]
            trained = load_arms(study.readout(a) for a in t["trained"])[0]
            present = [c for c in t["carried_over"] if c not in absent]
            carried = load_arms(study.arm(c) for c in present)[0] if present else []
            tasks.append(TransferTask(t["task"], untrained, trained, carried))
        body = transfer_tables(tasks) if tasks else "No task has its runs yet.\n"
        return head + body + ("\n" + "".join(f"- {n}\n" for n in notes) if notes else "")

    return write


def _baseline_action(study: Study, b: dict) -> Callable[[], str]:
    def write() -> str:
        from calbench.reporting.baselines import table

        return table(study.ref(b["root"]), min_parse_rate=b["min_parse_rate"])

    return write


def _kl_action(study: Study, k: dict) -> Callable[[], str]:
    """The KL-regularised optimum (``python -m trainers.rewarding_doubt.kl_optimum``) without or against each
    policy: the first policy in full, each further one from its "trained policy" section on, after its caption."""

    def write() -> str:
        post, ref = study.readout(k["posterior"]), study.readout(k["reference"])
        pols = k["policies"] or [{"readout": None, "caption": None}]
        out = ""
        for i, p in enumerate(pols):
            argv = [
                sys.executable,
                "-m",
                "trainers.rewarding_doubt.kl_optimum",
                post,
                ref,
                "--beta",
                *[f"{b:g}" for b in k["betas"]],
            ]
            if p["readout"]:
                argv += ["--policy", study.readout(p["readout"])]
            done = subprocess.run(argv, capture_output=True, text=True)
            if done.returncode:
                raise StudyError(f"{study.path}: {_rel(study.ref(k['out']))}: {done.stderr.strip()}")
            if i == 0:
                out = done.stdout
            else:
                lines = done.stdout.splitlines(keepends=True)
                at = next(j for j, line in enumerate(lines) if "trained policy" in line)
                out += f"\n{p['caption'] or ''}\n\n" + "".join(lines[at:])
        return out

    return write
