"""Task adapters: one sub-package per task, each defining ``TASK`` (a :class:`calbench.tasks.TaskSpec`)."""
