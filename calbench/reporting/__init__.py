"""Reporting: everything that reads finished run folders and shows them to people.

- ``inputs``: find run folders and read them (``load_run``, ``RunRef``) for the reports below.
- ``leaderboard``: every run against every other, ranked per task, as markdown/CSV/JSON/HTML.
- ``report``: a comparison of chosen runs (paired bootstrap of metric differences), rendered by ``render``
  (markdown) and ``html`` (one self-contained page).
- ``stats``: the paired statistics the reports use; ``plots``: reliability diagrams and histograms.

Layering (docs/architecture.md): the library below (metrics, records, runner) never imports this package
except ``runner`` and the trainer, which draw figures with ``reporting.plots``.
"""
