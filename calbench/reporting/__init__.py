"""Reporting: everything that reads finished run folders and shows them to people, bottom to top.

- ``inputs``: find run folders and check them (:class:`~calbench.reporting.inputs.RunFolder`); ``stats``: the
  multiple-comparison corrections and power estimates; ``names``, ``html``, ``files``: helpers.
- ``compare``: the one paired comparison of two arms (one method of one run each).
- ``board``: the leaderboard's records; ``trained``: trained models against the baselines (verdicts);
  ``suite``: the at-a-glance pages; ``leaderboard``: every run ranked per task (markdown, CSV, HTML).
- ``report``: a comparison of chosen runs against the first, rendered by ``render``.
- ``tables``, ``level_gaps``, ``baselines``: a study's tables.

Figures are drawn by :mod:`calbench.figures`, below both this package and the runner.
"""
