"""calbench inside lm-evaluation-harness, and back.

* :mod:`calbench.lmeval.hooks` -- the functions the task pack's YAMLs call (docs, prompt, parse + judge,
  corpus-level calibration aggregations).
* :mod:`calbench.lmeval.pack` -- generates the YAMLs (``tasks/<name>/lmeval_<name>.yaml``) and finds the
  folder to pass to ``--include_path``.
* :mod:`calbench.lmeval.importer` -- turns lm-eval sample logs (``--log_samples``) into calbench samples and
  a run manifest with bootstrap CIs.
"""
