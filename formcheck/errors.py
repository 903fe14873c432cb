"""Domain errors: one hierarchy, each carrying a one-line message a person can act on."""


class FormcheckError(Exception):
    """Base of every error formcheck reports to a user as a single line (CLI exit 2, HTTP 4xx)."""


class VideoError(FormcheckError):
    """A video or camera cannot be opened or decoded."""


class PoseModelError(FormcheckError):
    """The pose model bundle is missing, corrupt or cannot be built."""


class SpecError(FormcheckError):
    """An exercise or programme data file is invalid."""


class StoreError(FormcheckError):
    """The database cannot be opened, migrated or written."""


class InputError(FormcheckError):
    """A value given by a person (pain score, exercise id, person name) is not acceptable."""
