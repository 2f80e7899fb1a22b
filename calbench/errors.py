"""The errors a user causes and can fix: bad input data, an unknown task, an output folder that holds another
run, a model that cannot be found, a trainer that cannot be loaded or configured.

Every class here is a :class:`UserError`. Library code raises them (and never imports the CLI); the CLI
(:func:`calbench.cli.main`) prints one as ``calbench COMMAND: error: MESSAGE``, without a traceback, and exits
with code 2. The message says what was wrong, where (file, line, field) and what to do.

A refusal that belongs to one module subclasses one of these next to the code that raises it, e.g.
``runner.RunConflictError`` (a :class:`RunFolderError`), ``runner.GivenAnswersError``,
``methods.capabilities.BackendCapabilityError`` and ``backends.vllm.VLLMNotInstalledError``. The old import
paths (``calbench.cli.UserError``, ``calbench.records.DataError``, ``calbench.tasks.TaskError``,
``calbench.rundir.RunFolderError``, ``calbench.models.ModelNotFoundError``, ``calbench.training.TrainerError``)
still work. The CLI prints :meth:`UserError.message` with the command's option names (``field_options``).
"""

from __future__ import annotations


class UserError(Exception):
    """An error caused by the user's input; printed without a traceback, exit code 2.

    ``field`` names the setting the error is about (a key of the run's identity, e.g. ``"seed"``), so that a
    front end can name its own option for it: :meth:`message` with the front end's ``{field: option}`` map (the
    CLI passes each command's map of flags)."""

    def __init__(self, *args: object, field: str | None = None) -> None:
        super().__init__(*args)
        self.field = field

    def message(self, options: dict[str, str] | None = None) -> str:
        """The message, led by the option that sets ``field`` when ``options`` names one."""
        option = (options or {}).get(self.field or "")
        return f"{option}: {self}" if option else str(self)


class DataError(UserError, ValueError):
    """Bad input data; the message names the file, line and field."""


class TaskError(UserError, ValueError):
    """Unknown task / split / source; the message lists what exists."""


class RunFolderError(UserError, ValueError):
    """The output folder holds another run; the message names the folder and what is there."""


class ModelNotFoundError(UserError, FileNotFoundError):
    """The model could not be found; the message says where calbench looked."""


class TrainerError(UserError, ValueError):
    """A trainer could not be found, loaded or configured; the message says what to do."""
