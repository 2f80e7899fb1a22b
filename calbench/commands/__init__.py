"""Sub-commands of the ``calbench`` CLI, one module each (see :mod:`calbench.cli`)."""
