"""Pre-generate the stage-1 answers the trainer would generate for a config, part K of N (1 thread each)."""
import sys
from pathlib import Path
import torch
torch.set_num_threads(1)
from calbench.backends.hf import HFBackend
from calbench.judge import judge_for
from calbench.tasks import get_task
from trainers.rewarding_doubt.config import RDConfig
from trainers.rewarding_doubt.plugin import _load_data
from trainers.rewarding_doubt.data import answer_examples
from calbench.records import iter_jsonl
import yaml

cfg = RDConfig.from_mapping(yaml.safe_load(open(sys.argv[1])))
k, n, out = int(sys.argv[2]), int(sys.argv[3]), Path(sys.argv[4])
spec = get_task("sciq")
heldout, train = _load_data(spec, cfg)
have = {rec["id"] for _, rec in iter_jsonl(out / "answers.jsonl")}
todo = [e for e in list(heldout) + list(train) if e.id not in have]
mine = todo[k::n]
print(f"part {k}/{n}: {len(mine)} of {len(todo)} missing", file=sys.stderr, flush=True)
judge = judge_for(spec.kind, **{**(spec.judge_settings or {}), **cfg.judge})
backend = HFBackend("smollm2-135m-instruct", dtype=cfg.dtype, batch_size=cfg.answer_batch_size)
answer_examples(mine, backend, judge, kind=spec.kind, max_new_tokens=cfg.answer_max_new_tokens,
                cache=out / f"answers.part{k}.jsonl", seed=cfg.seed)
