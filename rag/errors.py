"""Domain errors, translated to messages only at the edges (CLI exit codes, HTTP statuses)."""


class RagError(Exception):
    """Base class: every error a user can cause or fix. The message says what to do."""


class InvalidInputError(RagError):
    """The caller gave something unusable (bad file type, empty question, undecodable text)."""


class WriteTooLargeError(InvalidInputError):
    """One request would embed more than a client's write may: split it, or index it with `rag index`."""


class WriteCancelledError(RagError):
    """The client left before its write was committed: nothing was written."""


class DocumentNotFoundError(RagError):
    """A document id that is not in the index."""


class IndexMissingError(RagError):
    """No index exists yet where one was expected."""


class IndexIncompatibleError(RagError):
    """The index on disk is corrupted or was built differently (format, model, chunking)."""


class ModelUnavailableError(RagError):
    """A model could not be provisioned or loaded offline."""


class GenerationError(RagError):
    """The generator failed or timed out; callers fall back to the extractive answer."""


class SearchBackendError(RagError):
    """The external search backend (Milvus) cannot be reached or refused a request; the local index is intact."""
