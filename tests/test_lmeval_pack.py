"""The lm-eval task pack: generated YAMLs are current, consistent with calbench's definitions, found by
`lm-eval validate`, and load offline (every doc, prompt and aggregation as calbench defines them)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from calbench.cli import main
from calbench.elicit import ANSWER_PREFIX, one_stage_prompt
from calbench.lmeval import hooks
from calbench.lmeval.pack import include_path, lmeval_task_name, write_pack, yaml_path
from calbench.methods.base import ANSWER_TOKENS
from calbench.tasks import TaskError, all_tasks, select

LMEVAL = Path(sys.executable).with_name("lm-eval")


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_constructor("!function", lambda loader, node: ("function", loader.construct_scalar(node)))


def load(path: Path) -> dict:
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)


def test_committed_yamls_are_current():
    assert write_pack(check=True) == [], "run: python -m calbench.lmeval.pack --write"


def test_every_task_has_a_consistent_yaml():
    names = set()
    for name, spec in all_tasks().items():
        path = yaml_path(spec)
        assert path.parent == Path(spec.folder) and path.exists()
        cfg = load(path)
        names.add(cfg["task"])
        assert cfg["task"] == lmeval_task_name(name)
        assert cfg["tag"] == ["calbench", f"calbench_{spec.group}"]
        assert cfg["dataset_kwargs"] == {"calbench_task": name}
        assert cfg["custom_dataset"] == ("function", "calbench.lmeval.hooks.load_docs")
        assert cfg["test_split"] == spec.default_split
        assert cfg["output_type"] == "generate_until"
        assert cfg["gen_prefix"] == ANSWER_PREFIX
        assert cfg["generation_kwargs"] == {
            "until": ["\n\n"],
            "max_gen_toks": ANSWER_TOKENS[spec.kind] + 12,
            "do_sample": False,
            "temperature": 0.0,
        }
        # issue 3314: the metric names, the keys process_results returns and the aggregations agree
        metrics = [m["metric"] for m in cfg["metric_list"]]
        assert metrics == list(hooks.METRICS)
        for m in cfg["metric_list"]:
            assert m["aggregation"] == ("function", f"calbench.lmeval.hooks.{m['metric']}")
            assert m["higher_is_better"] == hooks.HIGHER_IS_BETTER[m["metric"]]
        assert cfg["metadata"]["calbench_parse_policy"] == hooks.POLICY
        # no key of metadata may collide with the custom_dataset's keyword arguments
        assert not set(cfg["metadata"]) & set(cfg["dataset_kwargs"])
    assert names == {f"calbench_{n}" for n in all_tasks()}
    assert sorted(p.name for p in include_path().rglob("*.yaml")) == sorted(f"lmeval_{n}.yaml" for n in all_tasks())


def test_lmeval_path_command(capsys):
    assert main(["lmeval-path"]) == 0
    assert Path(capsys.readouterr().out.strip()) == include_path()
    assert main(["lmeval-path", "--list"]) == 0
    out = capsys.readouterr().out
    assert "calbench_triviaqa" in out and "calbench_in_domain" in out and "calbench_unseen" in out


def test_lmeval_validate_finds_the_pack(tmp_path):
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    tasks = "calbench,calbench_unseen,calbench_in_domain,calbench_triviaqa,calbench_gsm8k"
    ok = subprocess.run(
        [str(LMEVAL), "validate", "--include_path", str(include_path()), "--tasks", tasks],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "All tasks found and valid" in ok.stdout


def test_every_task_loads_offline_in_lmeval(monkeypatch, tmp_path):
    """Built by lm-eval from the YAMLs (from another working directory): the docs are the split's examples in
    calbench's seeded order, the prompt is calbench's, and each metric aggregates with calbench's function."""
    from lm_eval.tasks import TaskManager

    monkeypatch.chdir(tmp_path)
    tm = TaskManager(include_path=str(include_path()), include_defaults=False)
    assert tm.match_tasks(["calbench", "calbench_nonexistent"]) == ["calbench"]  # what `validate` checks
    loaded = tm.load(["calbench"])["tasks"]
    specs = all_tasks()
    assert set(loaded) == {lmeval_task_name(n) for n in specs}
    for name, spec in specs.items():
        task = loaded[lmeval_task_name(name)]
        docs = list(task.test_docs())
        expected = select(spec.load(), None, seed=hooks.SEED)
        assert [d["id"] for d in docs] == [e.id for e in expected]
        for doc, e in list(zip(docs, expected))[:3]:
            assert task.doc_to_text(doc) == one_stage_prompt(e, "0-10", spec.kind).messages[0]["content"]
            assert doc["answers"] == e.answers and doc["choices"] == e.choices
        assert task.config.gen_prefix == ANSWER_PREFIX
        assert {k: task.aggregation()[k] for k in hooks.METRICS} == {k: getattr(hooks, k) for k in hooks.METRICS}
        assert set(task.process_results(docs[0], [" x, Confidence: 5"])) <= set(task.aggregation())


def test_load_docs_routes_the_source_and_ignores_model_metadata():
    ds = hooks.load_docs("openbookqa", pretrained="/some/model", calbench_seed=1, version=1.0)
    rows = ds["test"]
    assert [r["id"] for r in rows] == [e.id for e in select(all_tasks()["openbookqa"].load(), None, seed=1)]
    with pytest.raises(TaskError, match="unknown data source"):
        hooks.load_docs("openbookqa", calbench_source="elsewhere")


def test_lmeval_metadata_reaches_the_adapter():
    """`--metadata '{"calbench_source": ...}'` (here the TaskManager's metadata) picks the adapter's source."""
    from lm_eval.tasks import TaskManager

    tm = TaskManager(
        include_path=str(include_path()), include_defaults=False, metadata={"calbench_source": "elsewhere"}
    )
    with pytest.raises(TaskError, match="unknown data source 'elsewhere'"):
        tm.load(["calbench_openbookqa"])
