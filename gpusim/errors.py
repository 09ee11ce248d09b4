"""Errors that mean "the user's input is wrong", as opposed to a bug in gpusim.

The CLI prints an `InputError` as one clear message and exits with status 2, never with a
traceback. Anything else that escapes is a bug.
"""

from __future__ import annotations

EXIT_INPUT_ERROR = 2


class InputError(Exception):
    """Bad user input (scenario, trace, command line). `str(err)` is the message shown."""


class ScenarioError(InputError):
    """One or more problems in a scenario file, each located by file, line, column and field path."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(p.format() for p in problems))


class Problem:
    """One located problem in an input file."""

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        column: int | None = None,
        path: str = "",
    ):
        self.message = message
        self.file = file
        self.line = line
        self.column = column
        self.path = path

    def format(self) -> str:
        where = self.file or "<scenario>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"

    def __repr__(self) -> str:
        return f"Problem({self.format()!r})"


class TraceFormatError(InputError):
    """A trace file that is not in the declared format, or a bad row in strict mode."""
