"""Copy a trained adapter into the repository (``adapters/``) in half precision, after checking that the half-precision
copy states the same confidences as the full-precision original on a set of fixed answers.

    python tools/ship_adapter.py --adapter runs/studies/confirmation-sciq-s0/pass2/adapter \\
        --record results/studies/confirmation/sciq-s0/pass2 --task sciq --out adapters/rd-sciq \\
        --check-answers results/training/rd-smollm2-sciq-natural-exact/before-sciq --check-limit 200

Writes ``OUT/adapter_model.safetensors`` (every floating tensor as ``--dtype``, default float16),
``adapter_config.json`` (the base model named by its packaged name), ``calbench_adapter.json`` (the trainer's card
plus the base model's and the weights' sha256, the dtype, the training record and the check's result) and a short
``README.md``. The check: ``calbench eval`` of two-stage and expected with the original and with the copy on the
first ``--check-limit`` answers of ``--check-answers`` (the same questions, the same answers); it reports how many
stated levels differ and the largest difference of the expected readout, and refuses to ship when a stated level
differs (``--allow-differences`` ships anyway, and the card says so).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tempfile
from pathlib import Path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def half_copy(src: Path, out: Path, dtype: str) -> None:
    """The adapter folder ``src`` copied to ``out`` with its floating tensors in ``dtype``."""
    import torch
    from safetensors.torch import load_file, save_file

    tensors = load_file(str(src / "adapter_model.safetensors"))
    to = getattr(torch, dtype)
    save_file(
        {k: (v.to(to) if v.is_floating_point() else v).contiguous() for k, v in tensors.items()},
        str(out / "adapter_model.safetensors"),
        metadata={"format": "pt"},
    )


def check(model: str, original: Path, copy: Path, answers: Path, task: str, limit: int) -> dict:
    """Stated levels and expected readouts of the original and the copy on the same answers."""
    from calbench.evaluation import ModelSpec, evaluate
    from calbench.runs import Run, samples_file

    run = Run.open(answers)
    split = run.manifest.task.get("split")
    with tempfile.TemporaryDirectory() as tmp:
        readouts = []
        for name, adapter in (("original", original), ("copy", copy)):
            result = evaluate(
                task,
                ModelSpec(model, "hf", {"adapter": str(adapter), "dtype": "float32", "device": "cpu"}),
                Path(tmp) / name,
                methods=["two-stage", "expected"],
                answers=str(samples_file(answers)),
                split=split,
                limit=limit,
                seed=run.manifest.get("seed", 0),
                judge_containment=True,
                plots=False,
                progress=False,
            )
            out = Run.open(Path(tmp) / name)
            readouts.append(
                {m: {s["id"]: s["confidence"] for s in out.samples(m, scored=False)} for m in ("two-stage", "expected")}
            )
            del result
    a, b = readouts
    stated = [i for i in a["two-stage"] if a["two-stage"][i] != b["two-stage"].get(i)]
    diffs = [abs((a["expected"][i] or 0) - (b["expected"].get(i) or 0)) for i in a["expected"]]
    return {
        "answers": str(answers),
        "questions": len(a["two-stage"]),
        "stated_levels_differing": len(stated),
        "expected_max_abs_difference": max(diffs) if diffs else None,
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--adapter", required=True, help="the trained adapter folder (a trainer's OUT/adapter)")
    ap.add_argument("--record", required=True, help="the committed training record (config.yaml, summary.json)")
    ap.add_argument("--task", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--dtype", default="float16", choices=["float16", "bfloat16"])
    ap.add_argument("--check-answers", required=True, help="a run folder whose answers the check rates")
    ap.add_argument("--check-limit", type=int, default=200)
    ap.add_argument("--allow-differences", action="store_true")
    args = ap.parse_args(argv)

    from calbench.models import read_adapter_card, resolve_model, write_adapter_card

    src, out = Path(args.adapter), Path(args.out)
    card = read_adapter_card(src)
    if card is None:
        print(f"{src}: no calbench_adapter.json (not an adapter made by a calbench trainer)", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)
    half_copy(src, out, args.dtype)
    config = json.loads((src / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = args.model
    (out / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
    result = check(args.model, src, out, Path(args.check_answers), args.task, args.check_limit)
    print(json.dumps(result, indent=1))
    if result["stated_levels_differing"] and not args.allow_differences:
        shutil.rmtree(out)
        print(f"the {args.dtype} copy states other levels than the original; nothing shipped", file=sys.stderr)
        return 1
    record = Path(args.record)
    fields = {k: v for k, v in card.items() if k not in ("name", "description")}
    fields.update(
        model=args.model,
        model_sha256=resolve_model(args.model).sha256,
        dtype=args.dtype,
        weights_sha256=sha256(out / "adapter_model.safetensors"),
        source_weights_sha256=sha256(src / "adapter_model.safetensors"),
        training_record=str(record),
        dtype_check=result,
    )
    write_adapter_card(out, str(card["name"]), str(card.get("description") or ""), **fields)
    (out / "README.md").write_text(
        f"# {card['name']}\n\n{card.get('description', '')}\n\n"
        f"- base model: `{args.model}` (sha256 `{fields['model_sha256']}`)\n"
        f"- weights: `adapter_model.safetensors`, {args.dtype}, sha256 `{fields['weights_sha256']}` (from the float32 "
        f"original, sha256 `{fields['source_weights_sha256']}`)\n"
        f"- training record: `{record}` (config.yaml, summary.json, train_log, curve)\n"
        f"- {args.dtype} check on {result['questions']} fixed answers (`{result['answers']}`): "
        f"{result['stated_levels_differing']} stated levels differ from the float32 original; expected readout "
        f"differs by at most {result['expected_max_abs_difference']:.2g}\n\n"
        f"    calbench eval --model {args.model} --adapter {out} --task {args.task} --method two-stage --out runs/x\n",
        encoding="utf-8",
    )
    print(f"shipped {out} ({sha256(out / 'adapter_model.safetensors')[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
