"""The frozen-prefix cache of the exact estimator (``lora_top_layers: K``).

With LoRA on the top ``K`` decoder layers only and a fixed answer, the hidden states entering layer ``L - K``
never change during training: the embeddings and the bottom ``L - K`` layers are frozen and their input (prompt,
fixed answer, the confidence continuations) is fixed. They are computed once per labelled answer (no gradient),
stored, and every later step runs only the top ``K`` layers, the final norm and the output head at the few
positions the objective reads.

One labelled answer is one *packed sequence*:

* plain readout (``strict_format: false``): ``prompt + "1"``; the objective reads the logits after the prompt
  and after "1" (:func:`calbench.levels.level_log_probs`);
* whole-number readout (``strict_format: true``): ``prompt`` followed by the ten continuations ``"d" "0"``
  (d = 0..9), each at positions ``T, T + 1`` and attending to the prompt and to itself only (a block mask);
  the objective reads the logits after the prompt, after each "d" and after "10"
  (:func:`calbench.backends.hf.whole_number_level_log_probs`). This is the same computation as the full model's
  key/value-cache readout, in one forward pass.

Batches are right-padded: a real token never attends to a pad, and a pad attends to itself only. The cache is
in memory (a list of tensors), or, with ``prefix_cache_dir``, an append-only file that later runs and passes
reuse: ``states.bin`` (the hidden states) and ``index.jsonl`` (per entry: key, offset, shape), in a folder
named by the model's sha256, ``K`` and the storage dtype; an entry's key is the sha256 of its packed tokens, so
a different prompt, answer or readout is a different entry. An interrupted build keeps every indexed entry.

The first batch is checked against the full model's readout (:func:`calbench.backends.hf.ids_level_log_probs`):
an architecture whose layers cannot be run one by one like this is refused instead of trained wrongly.
"""

from __future__ import annotations

import hashlib
import json
import math
from abc import abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from calbench.training import TrainerError

#: storage dtypes of the cached hidden states
CACHE_DTYPES = ("float32", "bfloat16", "float16")
#: the cached forward must give the full forward's outcome log-probabilities within this (float32 storage)
CHECK_TOLERANCE = {"float32": 1e-4, "bfloat16": 0.01, "float16": 0.005}
#: bumped when the packing changes, so an on-disk cache of another layout is not read
LAYOUT_VERSION = 1


@dataclass(frozen=True)
class Packed:
    """One labelled answer as the top layers see it: tokens, their positions, which earlier tokens each may
    attend to (``groups``: -1 = the prompt, attended by all; g >= 0: a continuation block attending to the
    prompt and to its own earlier tokens), and the positions whose logits the objective reads."""

    tokens: tuple[int, ...]
    positions: tuple[int, ...]
    groups: tuple[int, ...]
    reads: tuple[int, ...]

    @property
    def key(self) -> str:
        h = hashlib.sha256(json.dumps([LAYOUT_VERSION, self.tokens, self.positions, self.groups]).encode())
        return h.hexdigest()


def pack(ids_with_one: Sequence[int], digit_ids: Sequence[int], strict: bool) -> Packed:
    """The packed sequence of one exact-estimator input (``prompt + "1"``, the loop's convention)."""
    ids = list(ids_with_one)
    if not strict:
        n = len(ids)
        return Packed(tuple(ids), tuple(range(n)), (-1,) * n, (n - 2, n - 1))
    prompt = ids[:-1]
    t = len(prompt)
    tokens, positions, groups = list(prompt), list(range(t)), [-1] * t
    for d, digit in enumerate(digit_ids):
        tokens += [digit, digit_ids[0]]
        positions += [t, t + 1]
        groups += [d, d]
    # after the prompt; after each "d" (index t + 2d); after "10" (the "0" following "1": t + 3)
    reads = (t - 1, *(t + 2 * d for d in range(len(digit_ids))), t + 3)
    return Packed(tuple(tokens), tuple(positions), tuple(groups), reads)


def _mask(items: Sequence[Packed], width: int, dtype: Any) -> Any:
    """Additive attention mask (B, 1, S, S): 0 where a query may attend a key, the dtype's minimum elsewhere."""
    import torch

    allowed = torch.zeros((len(items), width, width), dtype=torch.bool)
    for row, it in enumerate(items):
        n = len(it.tokens)
        g = torch.as_tensor(it.groups)
        causal = torch.ones((n, n), dtype=torch.bool).tril()
        same_or_prompt = (g.unsqueeze(0) == -1) | (g.unsqueeze(0) == g.unsqueeze(1))
        allowed[row, :n, :n] = causal & same_or_prompt
        idx = torch.arange(n, width)
        allowed[row, idx, idx] = True  # a pad attends to itself only (no fully masked row)
    mask = torch.zeros(allowed.shape, dtype=dtype)
    mask.masked_fill_(~allowed, torch.finfo(dtype).min)
    return mask.unsqueeze(1)


def decoder_parts(model: Any) -> tuple[Any, Any]:
    """``(decoder, causal_lm)`` of a (peft-wrapped) llama-style causal LM: the decoder has ``embed_tokens``,
    ``layers``, ``norm``, ``rotary_emb``; the causal LM has ``lm_head``."""
    lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    decoder = getattr(lm, "model", None)
    missing = [a for a in ("embed_tokens", "layers", "norm", "rotary_emb") if not hasattr(decoder, a)]
    if missing or not hasattr(lm, "lm_head"):
        raise TrainerError(
            f"lora_top_layers needs a llama-style decoder (embed_tokens, layers, norm, rotary_emb, "
            f"lm_head); {type(lm).__name__} lacks {missing or ['lm_head']}: set lora_top_layers: null"
        )
    return decoder, lm


def top_layer_indices(model: Any, k: int) -> list[int]:
    decoder, _ = decoder_parts(model)
    n = len(decoder.layers)
    if not 1 <= k <= n:
        raise TrainerError(f"lora_top_layers must be between 1 and the model's {n} layers, got {k}")
    return list(range(n - k, n))


def _run_layers(layers: Sequence[Any], decoder: Any, h: Any, positions: Any, mask: Any) -> Any:
    emb = decoder.rotary_emb(h, positions)
    for layer in layers:
        out = layer(h, attention_mask=mask, position_ids=positions, position_embeddings=emb)
        h = out[0] if isinstance(out, tuple) else out
    return h


def _padded(items: Sequence[Packed], field: str, pad: int) -> Any:
    import torch

    width = max(len(it.tokens) for it in items)
    out = torch.full((len(items), width), pad, dtype=torch.long)
    for row, it in enumerate(items):
        values = getattr(it, field)
        out[row, : len(values)] = torch.as_tensor(values)
    return out


class PrefixCache:
    """Hidden states entering the first trained layer, one entry per labelled answer, computed on first use.

    ``forward(indices)`` returns the (B, 12) outcome log-probabilities of those inputs through the top layers
    (differentiable in the LoRA weights), the same quantity as :func:`~calbench.backends.hf.ids_level_log_probs`
    on the full model."""

    def __init__(
        self,
        model: Any,
        id_lists: Sequence[Sequence[int]],
        digit_ids: Sequence[int],
        *,
        top_k: int,
        end_ids: Sequence[int] | None = None,
        dtype: str = "float32",
        directory: str | Path | None = None,
        model_sha256: str | None = None,
        pad_id: int = 0,
    ):
        if dtype not in CACHE_DTYPES:
            raise TrainerError(f"prefix_cache_dtype must be one of {CACHE_DTYPES}, got {dtype!r}")
        self.model, self.digits, self.end_ids, self.pad_id = model, list(digit_ids), end_ids, pad_id
        self.decoder, self.lm = decoder_parts(model)
        self.first = top_layer_indices(model, top_k)[0]
        self.top_k, self.dtype = top_k, dtype
        self.items = [pack(ids, self.digits, end_ids is not None) for ids in id_lists]
        self.id_lists = [list(x) for x in id_lists]
        self.store: _Store = (
            _DiskStore(Path(directory), model_sha256, top_k, dtype, self.hidden_size) if directory else _MemoryStore()
        )
        self.built_seconds = 0.0  # CPU time spent building entries in this process
        self.checked = False

    @property
    def hidden_size(self) -> int:
        return int(self.decoder.embed_tokens.weight.shape[1])

    def entries(self) -> int:
        return len({it.key for it in self.items if self.store.has(it.key)})

    def _build(self, indices: Sequence[int]) -> None:
        import time

        import torch

        todo = [i for i in indices if not self.store.has(self.items[i].key)]
        if not todo:
            return
        t0 = time.process_time()
        items = [self.items[i] for i in todo]
        with torch.no_grad():
            tokens = _padded(items, "tokens", self.pad_id).to(self.decoder.embed_tokens.weight.device)
            positions = _padded(items, "positions", 0).to(tokens.device)
            h = self.decoder.embed_tokens(tokens)
            mask = _mask(items, tokens.shape[1], h.dtype).to(tokens.device)
            h = _run_layers(self.decoder.layers[: self.first], self.decoder, h, positions, mask)
        for row, it in enumerate(items):
            self.store.put(it.key, h[row, : len(it.tokens)].to(getattr(torch, self.dtype)).cpu())
        self.built_seconds += time.process_time() - t0

    def forward(self, indices: Sequence[int]) -> Any:
        """(B, 12) outcome log-probabilities of ``indices`` through the top layers (gradients to the LoRA
        weights); entries not yet cached are built first. The first call is checked against the full model."""
        import torch

        from calbench.levels import level_log_probs, whole_number_level_log_probs

        self._build(indices)
        items = [self.items[i] for i in indices]
        param = self.decoder.embed_tokens.weight
        width = max(len(it.tokens) for it in items)
        h = torch.zeros((len(items), width, self.hidden_size), dtype=param.dtype)
        for row, it in enumerate(items):
            h[row, : len(it.tokens)] = self.store.get(it.key).to(param.dtype)
        h = h.to(param.device)
        positions = _padded(items, "positions", 0).to(param.device)
        mask = _mask(items, width, h.dtype).to(param.device)
        h = _run_layers(self.decoder.layers[self.first :], self.decoder, h, positions, mask)
        reads = torch.as_tensor([it.reads for it in items], device=param.device)  # (B, R)
        picked = h.gather(1, reads.unsqueeze(-1).expand(-1, -1, h.shape[-1]))  # (B, R, d)
        lp = self.lm.lm_head(self.decoder.norm(picked)).float().log_softmax(-1)
        if self.end_ids is None:
            out = level_log_probs(lp[:, 0], lp[:, 1], self.digits)
        else:
            out = whole_number_level_log_probs(lp[:, 0], lp[:, 1:11], lp[:, 11], self.digits, self.end_ids)
        if not self.checked:
            self._check(indices, out)
        return out

    def _check(self, indices: Sequence[int], cached: Any) -> None:
        """The cached forward against the full model's readout on the same inputs (once per run)."""
        import torch

        from calbench.levels import ids_level_log_probs

        with torch.no_grad():
            full = ids_level_log_probs(
                self.model, [self.id_lists[i] for i in indices], self.pad_id, self.digits, self.end_ids
            )
        gap = (full.exp() - cached.detach().exp()).abs().max().item()
        if not math.isfinite(gap) or gap > CHECK_TOLERANCE[self.dtype]:
            raise TrainerError(
                f"the prefix cache's forward differs from the full model's by {gap:.2e} in "
                f"probability (tolerance {CHECK_TOLERANCE[self.dtype]}): this architecture cannot "
                "be run layer by layer here; set lora_top_layers: null"
            )
        self.checked = True
        self.check_gap = gap


class _Store:
    @abstractmethod
    def has(self, key: str) -> bool: ...
    @abstractmethod
    def get(self, key: str) -> Any: ...
    @abstractmethod
    def put(self, key: str, value: Any) -> None: ...


class _MemoryStore(_Store):
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def has(self, key: str) -> bool:
        return key in self.data

    def get(self, key: str) -> Any:
        return self.data[key]

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value


class _DiskStore(_Store):
    """``states.bin`` (raw rows of ``hidden`` values) + ``index.jsonl`` (key, row offset, rows), appended
    together; on open, rows past the last indexed entry (an interrupted write) are cut off."""

    def __init__(self, root: Path, model_sha256: str | None, top_k: int, dtype: str, hidden: int):
        if not model_sha256:
            raise TrainerError("prefix_cache_dir needs the model's sha256 (it keys the cache)")
        self.folder = root / f"{model_sha256[:16]}-top{top_k}-{dtype}-v{LAYOUT_VERSION}"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.dtype, self.hidden = dtype, hidden
        self.index: dict[str, tuple[int, int]] = {}
        index_path, data_path = self.folder / "index.jsonl", self.folder / "states.bin"
        rows, kept = 0, []
        if index_path.exists():
            for line in index_path.read_text(encoding="utf-8").splitlines(keepends=True):
                try:
                    rec = json.loads(line) if line.endswith("\n") else None
                except json.JSONDecodeError:
                    rec = None
                if rec is None:
                    break  # a torn last line: it and anything after it are dropped
                kept.append(line)
                self.index[rec["key"]] = (rec["offset"], rec["rows"])
                rows = max(rows, rec["offset"] + rec["rows"])
            index_path.write_text("".join(kept), encoding="utf-8")
        self.row_bytes = hidden * (4 if dtype == "float32" else 2)
        with open(data_path, "ab") as fh:
            fh.truncate(rows * self.row_bytes)
        (self.folder / "meta.json").write_text(
            json.dumps(
                {
                    "model_sha256": model_sha256,
                    "top_k": top_k,
                    "dtype": dtype,
                    "hidden": hidden,
                    "layout": LAYOUT_VERSION,
                }
            )
            + "\n",
            encoding="utf-8",
        )
        self.rows = rows
        self.data_path, self.index_path = data_path, index_path
        self._map: Any = None

    def has(self, key: str) -> bool:
        return key in self.index

    def _array(self) -> Any:
        import numpy as np

        if self._map is None or self._map.shape[0] < self.rows:
            self._map = np.memmap(
                self.data_path,
                dtype=np.uint16 if self.dtype != "float32" else np.float32,
                mode="r",
                shape=(self.rows, self.hidden),
            )
        return self._map

    def get(self, key: str) -> Any:
        import torch

        offset, rows = self.index[key]
        block = torch.from_numpy(self._array()[offset : offset + rows].copy())
        return block.view(getattr(torch, self.dtype)) if self.dtype != "float32" else block

    def put(self, key: str, value: Any) -> None:
        import torch

        raw = value.contiguous().view(torch.int16 if self.dtype != "float32" else torch.float32).numpy()
        with open(self.data_path, "ab") as fh:
            fh.write(raw.tobytes())
        with open(self.index_path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"key": key, "offset": self.rows, "rows": int(value.shape[0])}) + "\n")
        self.index[key] = (self.rows, int(value.shape[0]))
        self.rows += int(value.shape[0])
