"""The operator's one-line error, raised by the actions and shown by the command line and the console."""


class CommandError(Exception):
    """An error to show the operator as one line, with exit status 1."""
