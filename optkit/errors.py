"""Errors a user can cause. The CLI turns these into one line on stderr and exit code 2.

Programming errors (a bug in optkit) are ordinary exceptions and are allowed to raise.
"""

from __future__ import annotations


class OptkitError(Exception):
    """An error the user can fix: a bad file, a bad option, a method that refuses an instance.

    ``str(error)`` is a complete one-line message that names the cause (and the fix where one
    is known).
    """


class InvalidFileError(OptkitError):
    """A file (or an in-memory document) broke one or more rules.

    ``messages`` holds every broken rule, each as one line ``source: json.path: rule``.
    """

    def __init__(self, messages: list[str]) -> None:
        if not messages:
            raise ValueError("InvalidFileError needs at least one message")
        self.messages = list(messages)
        more = f" (and {len(messages) - 1} more)" if len(messages) > 1 else ""
        super().__init__(messages[0] + more)


class MethodRefused(OptkitError):
    """A method declined an instance (too large, wrong family, optional backend missing, ...)."""
