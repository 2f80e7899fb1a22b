"""Files of the committed results: report figures that repeat one committed elsewhere."""

from __future__ import annotations

import hashlib
import json
import lzma
import os
import sys
from pathlib import Path

from calbench.errors import DataError

__all__ = [
    "LEGACY_SAMPLES",
    "compress_file",
    "dedupe_report_figures",
    "keep_identical_figures",
    "snapshot_figures",
    "xz_bytes",
]

#: the earlier compressed form of a run's samples, recompressed as xz
LEGACY_SAMPLES = "samples.jsonl.gz"


def xz_bytes(data: bytes) -> bytes:
    """``data`` as an xz stream (``xz -9e``, CRC64; no file name or timestamp in the format, so the same content
    always gives the same bytes with a given liblzma)."""
    return lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9 | lzma.PRESET_EXTREME)


def compress_file(path: Path, *, dry_run: bool = False) -> Path:
    """Write ``<name>.xz`` for ``path`` (``samples.jsonl.gz``: ``samples.jsonl.xz``), atomically and verified by
    decompressing it, and remove ``path``; :class:`DataError` when the compressed twin already exists or the copy
    does not decompress to the original (nothing is removed then)."""
    from calbench.records import open_bytes

    legacy = path.name == LEGACY_SAMPLES
    target = path.with_name(path.name.removesuffix(".gz") + ".xz") if legacy else path.with_name(path.name + ".xz")
    if target.exists():
        raise DataError(f"{path}: {target.name} exists beside it; keep one copy (delete the stale one) and rerun")
    if dry_run:
        return target
    with open_bytes(path) as fh:  # a legacy .gz is decompressed by its suffix
        data = fh.read()
    packed = xz_bytes(data)
    if lzma.decompress(packed) != data:  # never remove the source on a bad write
        raise DataError(f"{path}: the compressed copy does not decompress to the original; nothing removed")
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(packed)
    tmp.replace(target)
    path.unlink()
    return target


def dedupe_report_figures(roots: list[Path], *, dry_run: bool = False) -> None:
    """A report's figure (``<report>_files/*.png`` beside ``<report>.md``) byte-identical to another figure under
    ``roots`` is removed, and the report's link points at the copy that is kept: a run folder's own figure if
    there is one, else the first report's (in path order). Reports that compare the same runs otherwise carry the
    same PNGs several times."""
    figures = sorted(p for root in roots for p in root.rglob("*.png"))
    groups: dict[str, list[Path]] = {}
    for path in figures:
        groups.setdefault(hashlib.sha256(path.read_bytes()).hexdigest(), []).append(path)

    def report_of(fig: Path) -> Path | None:
        parent = fig.parent
        if not parent.name.endswith("_files"):
            return None
        md = parent.with_name(parent.name.removesuffix("_files") + ".md")
        return md if md.is_file() else None

    saved = 0
    for paths in groups.values():
        if len(paths) < 2:
            continue
        keep = min(paths, key=lambda f: (report_of(f) is not None, str(f)))
        for fig in paths:
            md = report_of(fig)
            if fig == keep or md is None:
                continue
            text = md.read_text(encoding="utf-8")
            old = f"{fig.parent.name}/{fig.name}"
            if f"({old})" not in text:
                continue
            new = os.path.relpath(keep, md.parent)
            saved += fig.stat().st_size
            print(f"{'would link' if dry_run else 'linked'} {md}: {old} -> {new}", file=sys.stderr)
            if not dry_run:
                md.write_text(text.replace(f"({old})", f"({new})"), encoding="utf-8")
                fig.unlink()
    print(f"{saved / 2**20:.2f} MiB of duplicate report figures {'found' if dry_run else 'removed'}", file=sys.stderr)


def snapshot_figures(folder: Path) -> dict[Path, bytes]:
    """The PNG files under ``folder`` (a report's ``_files``), to hand to :func:`keep_identical_figures`."""
    return {p: p.read_bytes() for p in folder.glob("*.png")} if folder.is_dir() else {}


def keep_identical_figures(before: dict[Path, bytes]) -> int:
    """A figure rewritten with the same pixels gets its earlier bytes back (committed figures are recompressed
    losslessly, so a regenerated report would otherwise change every PNG without changing what it shows).
    Returns how many were kept."""
    from PIL import Image, ImageChops

    kept = 0
    for path, old in before.items():
        if not path.exists() or path.read_bytes() == old:
            continue
        import io

        with Image.open(io.BytesIO(old)) as a, Image.open(path) as b:
            same = a.size == b.size and ImageChops.difference(a.convert("RGBA"), b.convert("RGBA")).getbbox() is None
        if same:
            path.write_bytes(old)
            kept += 1
    return kept


def _leaf_changes(new: object, old: object, at: list) -> list[tuple[list, object]] | None:
    """The (path, value) pairs that turn ``old`` into ``new`` when both have the same shape (the same keys in the
    same order, lists of the same length) and differ only in leaves; None when the shapes differ."""
    if isinstance(new, dict) and isinstance(old, dict):
        if list(new) != list(old):
            return None
        out: list[tuple[list, object]] = []
        for k in new:
            sub = _leaf_changes(new[k], old[k], [*at, k])
            if sub is None:
                return None
            out += sub
        return out
    if isinstance(new, list) and isinstance(old, list):
        if len(new) != len(old):
            return None
        out = []
        for i, (a, b) in enumerate(zip(new, old)):
            sub = _leaf_changes(a, b, [*at, i])
            if sub is None:
                return None
            out += sub
        return out
    return [] if type(new) is type(old) and new == old else [(at, new)]


def _patch(rec: dict, base: dict) -> dict:
    """What rebuilds ``rec`` from ``base`` (:data:`calbench.records.DERIVED_SAMPLES_FILE`): fields set, fields
    equal to another field of ``base`` (ref), nested leaves replaced (at: a prompt whose one message differs),
    fields deleted, the key order."""
    changed = {k: v for k, v in rec.items() if k not in base or base[k] != v}
    patch: dict = {}
    for k, v in changed.items():
        same = [f for f, w in base.items() if f != k and type(w) is type(v) and w == v]
        leaves = _leaf_changes(v, base[k], [k]) if k in base and isinstance(v, (dict, list)) else None
        if same and (isinstance(v, float) or (isinstance(v, str) and len(v) > 8)):
            patch.setdefault("ref", {})[k] = same[0]
        elif leaves and len(json.dumps(leaves, ensure_ascii=False)) < len(json.dumps(v, ensure_ascii=False)):
            patch.setdefault("at", []).extend([path, value] for path, value in leaves)
        else:
            patch.setdefault("set", {})[k] = v
    gone = [k for k in base if k not in rec]
    if gone:
        patch["del"] = gone
    rebuilt = dict(base) | patch.get("set", {}) | {k: base[f] for k, f in patch.get("ref", {}).items()}
    if [k for k in rebuilt if k not in gone] != list(rec):  # the rebuild's key order (derived_samples_bytes)
        patch["order"] = list(rec)
    return patch


def run_in_progress(folder: Path) -> bool:
    """Whether ``folder`` is a run folder whose run is not finished (a running or interrupted run appends to its
    plain samples file and resumes from it: it must not be compressed or thinned)."""
    from calbench.runs import Run, has_manifest

    return has_manifest(folder) and Run.open(folder).manifest.status in ("running", "incomplete")


def thin_derived_samples(
    folder: Path, source: Path, *, dry_run: bool = False, own_records: bool = False
) -> tuple[int, int] | None:
    """Replace the samples of ``folder`` (a run derived from the run ``source``: a post-hoc scaler's output) by a
    derived samples file holding only what differs from the source's records, when that file rebuilds the samples
    byte for byte and is smaller; returns (bytes before, bytes after), or None when nothing was replaced. With
    ``own_records``, a record whose id the source lacks is kept whole (``{"rec": ...}``) instead of refusing."""
    from calbench.records import DERIVED_SAMPLES_FILE, derived_samples_bytes, find_samples_file, open_bytes

    samples, src = find_samples_file(folder), find_samples_file(source)
    if samples is None or src is None or samples.name == DERIVED_SAMPLES_FILE:
        return None
    if run_in_progress(folder) or run_in_progress(source):
        return None
    with open_bytes(samples) as fh:
        data = fh.read()
    with open_bytes(src) as fh:
        src_bytes = fh.read()
    by_id: dict[str, list[tuple[int, dict]]] = {}
    for i, line in enumerate(src_bytes.decode("utf-8").split("\n")):
        if line:
            rec = json.loads(line)
            by_id.setdefault(rec["id"], []).append((i, rec))
    lines = [
        json.dumps({"source": os.path.relpath(source, folder), "source_sha256": hashlib.sha256(src_bytes).hexdigest()})
    ]
    for line in data.decode("utf-8").split("\n"):
        if not line:
            continue
        rec = json.loads(line)
        candidates = by_id.get(rec["id"])
        if not candidates:
            if own_records:
                lines.append(json.dumps({"rec": rec}, ensure_ascii=False))
                continue
            return None  # a record the source does not have: not derived from it
        patches = [(i, _patch(rec, b)) for i, b in candidates]  # the source record rebuilding it with the least
        i, patch = min(patches, key=lambda t: (len(json.dumps(t[1])), t[0]))
        lines.append(json.dumps({"i": i, **patch}, ensure_ascii=False))
    packed = xz_bytes(("\n".join(lines) + "\n").encode("utf-8"))
    if len(packed) >= samples.stat().st_size:
        return None
    if dry_run:
        return samples.stat().st_size, len(packed)
    target = folder / DERIVED_SAMPLES_FILE
    tmp = folder / (DERIVED_SAMPLES_FILE + ".tmp")
    tmp.write_bytes(packed)
    tmp.replace(target)
    try:
        exact = derived_samples_bytes(target) == data
    except DataError:
        exact = False
    if not exact:  # never remove the samples on a bad rebuild
        target.unlink()
        return None
    before = samples.stat().st_size
    samples.unlink()
    return before, len(packed)


def derive_from_like_run(folder: Path, source: Path, *, dry_run: bool = False) -> tuple[int, int] | None:
    """:func:`thin_derived_samples` of a run against a like run named by hand (``compress_results.py --derive``):
    the same model, weights, adapter and task, e.g. one readout run on a training pool beside an earlier one on
    most of the same questions (their records differ in a few fields). The source must keep its own samples (no
    chain of derived files). Records the source lacks are kept whole. Raises :class:`DataError` naming what differs."""
    from calbench.records import DERIVED_SAMPLES_FILE, find_samples_file
    from calbench.runs import Run, has_manifest

    for f in (folder, source):
        if not has_manifest(f):
            raise DataError(f"{f}: not a run folder (no run.json)")
    src = find_samples_file(source)
    if src is None or src.name == DERIVED_SAMPLES_FILE:
        raise DataError(f"{source}: its samples are derived or missing; derive from a run that keeps its own")
    a, b = Run.open(folder).manifest, Run.open(source).manifest
    for what, x, y in (
        ("task", a.task_name, b.task_name),
        ("model sha256", a.model.get("sha256"), b.model.get("sha256")),
        ("adapter sha256", a.model.get("adapter_sha256"), b.model.get("adapter_sha256")),
    ):
        if x != y:
            raise DataError(f"{folder} and {source}: not like runs ({what}: {x} vs {y})")
    return thin_derived_samples(folder, source, dry_run=dry_run, own_records=True)


def thin_derived_runs(roots: list[Path], *, dry_run: bool = False) -> list[tuple[Path, Path, int, int]]:
    """:func:`thin_derived_samples` for every run under ``roots`` that a post-hoc scaler made (its run.json has
    ``calibration``), against the run it was applied to: the run under ``roots`` with the same task, questions
    (ids sha256), model and adapter and no calibration of its own whose records rebuild it. Returns (run, source,
    bytes before, bytes after) for each run thinned."""
    from calbench.runs import MANIFEST_FILE, Run

    runs = [Run.open(p.parent) for root in roots for p in sorted(root.rglob(MANIFEST_FILE))]

    def key(run: Run) -> tuple:
        m = run.manifest
        return (m.task_name, m.task.get("ids_sha256"), m.model.get("sha256"), m.model.get("adapter_sha256"))

    sources: dict[tuple, list[Run]] = {}
    for run in runs:
        if not run.manifest.calibration:
            sources.setdefault(key(run), []).append(run)
    done = []
    for run in runs:
        if not run.manifest.calibration:
            continue
        # the source is the candidate whose records rebuild it with the least (its own scores, not a probe's run on
        # the same answers)
        trials = [(thin_derived_samples(run.path, src.path, dry_run=True), src) for src in sources.get(key(run), [])]
        fits = sorted(((sizes[1], str(src.path), src) for sizes, src in trials if sizes), key=lambda t: t[:2])
        if fits:
            best = fits[0][2]
            sizes = thin_derived_samples(run.path, best.path, dry_run=dry_run)
            if sizes:
                done.append((run.path, best.path, *sizes))
    return done


def _runs_by_samples_sha256(roots: list[Path]) -> dict[str, Path]:
    """The run folders under ``roots`` by the sha256 of their samples' plain bytes (a compressed file's content:
    what ``eval --answers`` hashed before it was compressed); derived samples are not sources."""
    from calbench.records import DERIVED_SAMPLES_FILE, find_samples_file, open_bytes
    from calbench.runs import MANIFEST_FILE

    out: dict[str, Path] = {}
    for root in roots:
        for p in sorted(root.rglob(MANIFEST_FILE)):
            samples = find_samples_file(p.parent)
            if samples is None or samples.name == DERIVED_SAMPLES_FILE or run_in_progress(p.parent):
                continue
            with open_bytes(samples) as fh:
                out.setdefault(hashlib.sha256(fh.read()).hexdigest(), p.parent)
    return out


def thin_given_answer_runs(roots: list[Path], *, dry_run: bool = False) -> list[tuple[Path, Path, int, int]]:
    """:func:`thin_derived_samples` for every run under ``roots`` evaluated on given answers (``eval --answers``)
    taken from another run folder's samples (run.json ``given_answers.path``, relative to the working folder, as
    the commands ran): e.g. a trained adapter rating the untrained model's answers keeps only what differs from
    the untrained run's records (the prompts, answers and gold lists are the same). A source folder since moved
    (the path names a scratch folder that is gone, e.g. ``runs/x/before-triviaqa``) is found under ``roots`` by
    its content: the run whose plain samples have the recorded sha256. Returns (run, source, bytes before, bytes
    after) for each run thinned."""
    from calbench.records import DERIVED_SAMPLES_FILE, find_samples_file
    from calbench.runs import MANIFEST_FILE, Run, has_manifest

    moved: dict[str, Path] | None = None  # plain samples sha256 -> run folder, built when first needed
    done = []
    for root in roots:
        for p in sorted(root.rglob(MANIFEST_FILE)):
            run = Run.open(p.parent)
            given = run.manifest.get("given_answers") or {}
            samples = find_samples_file(run.path)
            if not given.get("path") or samples is None or samples.name == DERIVED_SAMPLES_FILE:
                continue  # no given answers, or already thinned (its source is not looked for again)
            source = Path(given["path"]).parent
            if not has_manifest(source) and given.get("sha256"):
                moved = _runs_by_samples_sha256(roots) if moved is None else moved
                source = moved.get(given["sha256"], source)
            if source.resolve() == run.path.resolve() or not has_manifest(source):
                continue
            sizes = thin_derived_samples(run.path, source, dry_run=dry_run)
            if sizes:
                done.append((run.path, source, *sizes))
    return done
