"""Errors the CLI turns into one line and an exit code, never a traceback."""


class Fatal(Exception):
    """A failure an operator must act on; the message says what and where."""

    exit_code = 1


class UsageError(Fatal):
    """Bad usage or configuration: exit 2, the message names the setting."""

    exit_code = 2


def one_line(error: BaseException) -> str:
    """An exception as one log-friendly line: its message with whitespace collapsed, or its type."""
    return " ".join(str(error).split()) or error.__class__.__name__
