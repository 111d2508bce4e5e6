"""The project's error classes. The CLI catches ``HMRError`` and prints its one-line message."""


class HMRError(Exception):
    """Base class of errors the user can act on; the message is one line that says what to do."""


class InputError(HMRError, ValueError):
    """A file or array the user gave does not have the expected layout, shape or values."""


class MissingFileError(HMRError, FileNotFoundError):
    """A file the user must bring (weights, model files, datasets) is not where it is expected."""


class UnsafeFileError(HMRError):
    """A file asked to run code or build objects outside the allow-list while being loaded."""
