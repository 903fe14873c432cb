"""Domain errors: one hierarchy, each carrying a one-line message a person can act on."""


class FormcheckError(Exception):
    """Base of every error formcheck reports to a user as a single line (CLI exit 2, HTTP 4xx).

    `public`: what a web client may be told when the full message must stay in the log (a 5xx names URLs and
    paths; issue 17 L2); None: the web answers with its fixed sentence for the error's kind."""

    public: str | None = None

    def __init__(self, *args: object, public: str | None = None) -> None:
        super().__init__(*args)
        self.public = public


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
