"""Run folders as the leaderboard and the comparison report read them: discovery, validation, comparability.

A run folder holds ``run.json`` (the manifest) and ``samples.jsonl`` (or a compressed ``samples.jsonl.xz`` or
``.gz``; never two). A
folder is used only if its manifest is complete and its samples are whole; every folder that is not used is returned
as a :class:`Skipped` with the reason, so callers can say what they left out and why (nothing is skipped
silently).

Two runs of a task are *comparable* when they scored the same questions (``task.ids_sha256`` and
``task.data_sha256``), with the same judge and settings, the same parse-failure policy, the same metric settings
that change values (ECE bins, log-score eps) and the same given answers (``eval --answers``). See
:func:`comparability_key`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from calbench.records import SAMPLE_FIELDS, SAMPLES_FILES, DataError, find_samples_file
from calbench.runs import MANIFEST_FILE, ManifestError, Run, has_manifest, parse_ref

REQUIRED_FIELDS = ("model", "task", "n", "methods", "metrics", "status")
#: Groups of tasks in the order reports show them.
GROUP_ORDER = ("in_domain", "unseen", "user")
GROUP_TITLES = {"in_domain": "In-domain tasks", "unseen": "Unseen tasks", "user": "User datasets"}


@dataclass
class Skipped:
    """A folder left out, and why."""

    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class RunFolder(Run):
    """A complete, validated run folder (:func:`check_run_folder`): a :class:`calbench.runs.Run` whose samples
    are whole."""

    _fingerprint: str | None = field(default=None, repr=False, compare=False)

    @property
    def task(self) -> str:
        return str(self.manifest["task"].get("name"))

    @property
    def group(self) -> str:
        return str(self.manifest["task"].get("group") or "other")

    @property
    def finished(self) -> str:
        return str(self.manifest.timings.get("finished") or "")

    def answers_fingerprint(self) -> str | None:
        """:func:`calbench.answers.answers_fingerprint` of the answers this run's samples hold (the same for a
        run that generated them and one given them with ``eval --answers``); None without a readable table."""
        from calbench.answers import answers_fingerprint, samples_answers

        if self._fingerprint is None:
            try:
                table = samples_answers(self.samples(), str(self.samples_path))
            except DataError:
                table = {}
            self._fingerprint = answers_fingerprint(table) if table else ""
        return self._fingerprint or None


def _samples_problem(path: Path, n: int, methods: list[str]) -> str | None:
    """Why ``path`` is not a whole samples file for ``n`` questions x ``methods``, or None if it is."""
    from calbench.records import JsonlLineError, jsonl_objects, read_text_lines

    lines = read_text_lines(path)
    counts: dict[str, set] = {m: set() for m in methods}
    try:
        for i, obj in jsonl_objects(path, lines):
            missing = [k for k in SAMPLE_FIELDS if k not in obj]
            if missing:
                return f"{path.name}:{i} lacks field(s) {missing}"
            counts.setdefault(obj["method"], set()).add(obj["id"])
    except JsonlLineError as e:
        if e.json_error is None:
            return f"{path.name}:{e.line} is not a JSON object"
        where = "its last line" if e.line == len(lines) else f"line {e.line}"
        return (
            f"{path.name} is truncated or corrupt ({where} is not valid JSON: {e.json_error}); "
            "the run was interrupted while writing: rerun its eval command to resume"
        )
    if lines and not lines[-1].endswith("\n"):
        return f"{path.name} ends in a partial line (line {len(lines)}): the run was interrupted while writing"
    short = [f"{m}: {len(counts.get(m, ()))} of {n}" for m in methods if len(counts.get(m, ())) != n]
    if short:
        return f"{path.name} does not hold every sample the manifest promises ({'; '.join(short)})"
    return None


def readout(spec: str) -> tuple[RunFolder, str]:
    """The complete run folder and the method that ``FOLDER#METHOD`` names (one readout of one run). Raises
    :class:`~calbench.records.DataError` naming the folder if it is not a complete run or lacks the method."""
    folder, method = parse_ref(spec)
    run = check_run_folder(folder)
    if not isinstance(run, RunFolder):
        raise DataError(f"{folder}: {run.reason}")
    if method not in run.methods:
        raise DataError(f"{folder}: no method {method!r} (it has {', '.join(run.methods)})")
    return run, method


def check_run_folder(folder: str | Path) -> RunFolder | Skipped:
    """Validate one run folder: a :class:`RunFolder` if it is complete, else a :class:`Skipped` with why."""
    folder = Path(folder)
    try:
        manifest = Run.open(folder / MANIFEST_FILE).manifest
    except ManifestError as e:
        return Skipped(folder, e.reason)
    status = manifest.get("status")
    if "status" in manifest and status != "complete":
        return Skipped(
            folder,
            f"status is {status!r}, not 'complete' (interrupted or still running: rerun its eval command to finish it)",
        )
    missing = [k for k in REQUIRED_FIELDS if k not in manifest]
    if missing:
        return Skipped(folder, f"run.json lacks field(s) {missing}; not a complete calbench run manifest")
    try:
        samples_path = find_samples_file(folder)
    except DataError as e:
        return Skipped(folder, str(e).removeprefix(f"{folder}: "))
    if samples_path is None:
        return Skipped(folder, "no samples.jsonl beside run.json (needed to verify and compare the run)")
    try:
        n = int(manifest["n"])
        problem = _samples_problem(samples_path, n, list(manifest["methods"]))
    except (OSError, ValueError, TypeError, EOFError) as e:
        problem = f"cannot read {samples_path.name}: {e}"
    if problem:
        return Skipped(folder, problem)
    return RunFolder(folder, manifest, samples_path)


def discover(paths: Iterable[str | Path]) -> tuple[list[RunFolder], list[Skipped]]:
    """Every run folder under ``paths`` (a path may be a run folder or a folder of run folders, at any
    depth), validated. A folder with a samples file but no run.json is reported as skipped.

    Raises :class:`~calbench.records.DataError` if a path does not exist or holds no run at all.
    """
    runs: list[RunFolder] = []
    skipped: list[Skipped] = []
    seen: set[Path] = set()
    for root in map(Path, paths):
        if not root.exists():
            raise DataError(f"{root}: no such file or directory")
        if root.is_file():
            root = root.parent
        found = sorted(
            {p.parent for p in root.rglob(MANIFEST_FILE)}
            | {p.parent for name in SAMPLES_FILES for p in root.rglob(name)}
        )
        if has_manifest(root):
            found = sorted(set(found) | {root})
        if not found:
            raise DataError(
                f"{root}: no run folders here (looked for run.json and samples.jsonl at any depth); "
                "run `calbench eval --out DIR` first, or point at the folder that holds its runs"
            )
        for folder in found:
            key = folder.resolve()
            if key in seen:
                continue
            seen.add(key)
            result = check_run_folder(folder)
            if isinstance(result, RunFolder):
                runs.append(result)
            else:
                skipped.append(result)
    return runs, skipped


def comparability_key(manifest: dict) -> dict[str, Any]:
    """What must be equal for two runs' metrics on a task to be compared (or ranked together)."""
    task = manifest.get("task") or {}
    ms = manifest.get("metric_settings") or {}
    judge = manifest.get("judge") or {}
    return {
        "task": task.get("name"),
        "questions": task.get("ids_sha256"),
        "data": task.get("data_sha256"),
        "judge": {"name": judge.get("name"), "settings": judge.get("settings")},
        "parse_policy": manifest.get("parse_policy", ms.get("parse_policy")),
        "ece_bins": ms.get("ece_bins"),
        "log_score_eps": ms.get("log_score_eps"),
        # runs scored on given answers (eval --answers) compare only with runs on the same answers
        "answers": (manifest.get("given_answers") or {}).get("sha256"),
    }


_KEY_LABELS = {
    "task": "task",
    "questions": "questions (task.ids_sha256)",
    "data": "data (task.data_sha256)",
    "judge": "judge",
    "parse_policy": "parse policy",
    "ece_bins": "ECE bins",
    "log_score_eps": "log-score eps",
    "answers": "given answers (given_answers.sha256)",
}


def _short(v: Any) -> str:
    if isinstance(v, str) and len(v) == 64:
        return v[:10] + "…"
    if isinstance(v, dict):
        if set(v) == {"name", "settings"}:
            s = ", ".join(f"{k}={x}" for k, x in sorted((v["settings"] or {}).items()))
            return f"{v['name']}({s})"
        return json.dumps(v, sort_keys=True)
    return str(v)


def describe_key(key: dict[str, Any]) -> str:
    """One line naming what a comparability key holds."""
    return "; ".join(f"{_KEY_LABELS[k]} {_short(v)}" for k, v in key.items() if k != "task")


def key_differences(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """What differs between two comparability keys, e.g. ``["judge: alias_match(...) vs f1(...)"]``."""
    return [f"{_KEY_LABELS[k]}: {_short(a.get(k))} vs {_short(b.get(k))}" for k in a if a.get(k) != b.get(k)]


def run_differences(a: RunFolder, b: RunFolder) -> list[str]:
    """Why two runs' scores on a task cannot be compared (:func:`key_differences` of their comparability keys),
    empty when they can. Given answers (``eval --answers``) that are exactly the answers the other run holds
    (e.g. a trained model scored on the untrained model's greedy answers) are the same answers."""
    ka, kb = comparability_key(a.manifest), comparability_key(b.manifest)
    if (
        ka != kb
        and {k for k in ka if ka[k] != kb.get(k)} == {"answers"}
        and a.answers_fingerprint() is not None
        and a.answers_fingerprint() == b.answers_fingerprint()
    ):
        return []
    return key_differences(ka, kb)


def _probe_of(manifest: dict, method: str) -> str | None:
    """The fitted probe a ``probe`` readout applied (its file's sha256; two probes are two systems)."""
    if method != "probe":
        return None
    settings = (manifest.get("elicitation") or {}).get("method_settings") or {}
    return settings.get("probe_sha256")


#: how a run's answers reached its readout (``system_key``'s sixth element): its own answers (None), given answers
#: shown as the parsed answer (``eval --answers``), or given answers shown as the model's stage-1 reply verbatim
#: (``--answers-verbatim``)
ANSWERS_SHOWN = {None: "own answers", "given": "given answers", "given-verbatim": "given answers, verbatim"}


def answers_shown(manifest: dict) -> str | None:
    """How the run's readouts saw the answers they rate: a key of :data:`ANSWERS_SHOWN`."""
    given = manifest.get("given_answers")
    if not given:
        return None
    return "given-verbatim" if given.get("verbatim") else "given"


def system_key(manifest: dict, method: str) -> tuple:
    """What identifies a system (a leaderboard row): model id and weights, adapter, method, how it saw the answers
    it rates (:func:`answers_shown`: the same model rating its own reply, the parsed answer or the reply given back
    verbatim are three protocols, e.g. the rendering sensitivity runs beside a study's runs) and for ``probe`` the
    probe it applied. An adapter with a recorded sha256 is that sha256 wherever its folder was (a run made in
    another checkout records another absolute path); one without is its path."""
    model = manifest.get("model") or {}
    key = (
        model.get("id"),
        model.get("sha256"),
        None if model.get("adapter_sha256") else model.get("adapter"),
        model.get("adapter_sha256"),
        method,
        answers_shown(manifest),
    )
    probe = _probe_of(manifest, method)
    return key if probe is None else (*key, probe)


def unique_labels(labels: dict[tuple, str]) -> dict[tuple, str]:
    """``{system key: label}`` with labels made unique where two systems share one: how each saw the answers where
    that tells them apart (``own answers``, ``given answers``), else the sha256 prefix of what does (the model's
    weights, else the adapter's: ``adapter 1a2b3c4d``), e.g. for the adapters of two training runs saved under the
    same relative path."""
    out = dict(labels)
    for label, same in _same_label(out):  # first by how the answers were shown, e.g. own vs given
        if len({s[5] for s in same}) > 1:
            for s in same:
                out[s] = f"{label} ({ANSWERS_SHOWN[s[5]]})"
    for label, same in _same_label(out):
        models_differ = len({s[1] for s in same}) > 1
        for s in same:
            if models_differ or not s[3]:
                out[s] = f"{label} ({str(s[1] or s[3] or 'no sha256')[:8]})"
            else:
                out[s] = f"{label} (adapter {str(s[3])[:8]})"
    return out


def _same_label(labels: dict[tuple, str]) -> list[tuple[str, list[tuple]]]:
    """The groups of two or more systems that share a label."""
    groups: dict[str, list[tuple]] = {}
    for system, label in labels.items():
        groups.setdefault(label, []).append(system)
    return [(label, same) for label, same in groups.items() if len(same) > 1]


def system_label(manifest: dict, method: str, adapter_name: str | None = None) -> str:
    """``model · method``, or ``model + adapter · method`` for a trained model: the adapter's human name when one
    is known (a study's, :mod:`calbench.reporting.names`, else the adapter card's that run.json records), else the
    last two parts of its path."""
    model = manifest.get("model") or {}
    label = str(model.get("id"))
    adapter = model.get("adapter")
    if adapter:
        parts = Path(str(adapter)).parts
        label += " + " + (adapter_name or model.get("adapter_name") or "/".join(parts[-2:]))
    if _probe_of(manifest, method):  # the probe's file names it, e.g. probe (probe-sciq-4800)
        probe = Path(str(((manifest.get("elicitation") or {}).get("method_settings") or {}).get("probe", ""))).stem
        label = f"{label} · {method} ({probe})"
    else:
        label = f"{label} · {method}"
    return label + (" (given answers, verbatim)" if answers_shown(manifest) == "given-verbatim" else "")
