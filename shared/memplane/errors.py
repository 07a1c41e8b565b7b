"""The errors memplane raises.

Every error carries a stable ``code`` that clients may switch on; how a code maps to an HTTP status is
decided once, in ``memplane.platform.http``, never here::

    MemplaneError
     +-- RequestError            the caller must change the request
     |    +-- InvalidRequest        invalid_request
     |    +-- Unauthorized          unauthorized
     |    +-- Forbidden             forbidden
     |    +-- UnsupportedMediaType  unsupported_media_type
     |    +-- PayloadTooLarge       payload_too_large
     |    +-- ClientNotFound        client_not_found
     |    +-- RouteNotFound         not_found
     |    +-- MethodNotAllowed      method_not_allowed
     +-- DependencyError         something we depend on failed; retrying may help
     |    +-- DatabaseError         database_error
     |    +-- Timeout               timeout
     |    +-- EmbeddingsFailed      embeddings_failed
     |    +-- ExtractionFailed      extraction_failed
     |    +-- VectorIndexFailed     vector_index_failed
     |    |    +-- VectorSearchFailed   vector_search_failed
     |    |    +-- IndexWarmingUp       vector_index_warming_up
     |    +-- SecretsUnavailable    secrets_unavailable
     +-- ConfigurationError      the deployment is misconfigured (configuration_error)
"""

from __future__ import annotations


class MemplaneError(Exception):
    """Base of every error memplane raises on purpose."""

    code = "internal_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RequestError(MemplaneError):
    """The request cannot be served as sent; the message says what to change."""


class InvalidRequest(RequestError):
    """A field is missing, has the wrong type, or a value is out of range."""

    code = "invalid_request"

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class Unauthorized(RequestError):
    """The bearer token is missing or wrong."""

    code = "unauthorized"


class Forbidden(RequestError):
    """The credential is valid but does not reach this action (the chat token and the full cleanup run)."""

    code = "forbidden"


class UnsupportedMediaType(RequestError):
    """A token-less local server takes only JSON: a web page cannot send it without asking first."""

    code = "unsupported_media_type"


class PayloadTooLarge(RequestError):
    """The body is larger than the platform accepts."""

    code = "payload_too_large"


class ClientNotFound(RequestError):
    """An unknown client was asked for and no profile was given to create it."""

    code = "client_not_found"


class RouteNotFound(RequestError):
    """No function is served at this path."""

    code = "not_found"


class MethodNotAllowed(RequestError):
    """The function exists but not for this HTTP method. ``allow`` lists the methods it does answer
    (the ``Allow`` header that RFC 9110 requires with a 405)."""

    code = "method_not_allowed"

    def __init__(self, message: str, *, allow: str) -> None:
        super().__init__(message)
        self.allow = allow


class DependencyError(MemplaneError):
    """A dependency (database, model endpoint, index) failed."""


class DatabaseError(DependencyError):
    """Postgres is unreachable or refused the operation."""

    code = "database_error"


class Timeout(DependencyError):
    """An operation ran past its time budget and was cancelled."""

    code = "timeout"


class EmbeddingsFailed(DependencyError):
    """The embedder could not turn text into vectors."""

    code = "embeddings_failed"


class ExtractionFailed(DependencyError):
    """The fact extractor failed or replied with something that does not validate.

    ``kind`` says how (``unavailable``: the endpoint failed; ``unreadable``: no object in the reply;
    ``cut``: the reply ran out of tokens; ``empty``), and ``excerpt`` keeps a short, redacted start
    of an unreadable reply for the operator."""

    code = "extraction_failed"

    def __init__(self, message: str, kind: str = "unavailable", excerpt: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.excerpt = excerpt


class VectorIndexFailed(DependencyError):
    """The vector index could not be reached or refused an update."""

    code = "vector_index_failed"


class VectorSearchFailed(VectorIndexFailed):
    """The vector index could not be queried."""

    code = "vector_search_failed"


class IndexWarmingUp(VectorIndexFailed):
    """The index client is still loading after a cold start; Postgres answers meanwhile."""

    code = "vector_index_warming_up"


class SecretsUnavailable(DependencyError):
    """The secret store is unreachable and no recent enough cached copy exists."""

    code = "secrets_unavailable"


class ConfigurationError(MemplaneError):
    """The settings are contradictory or incomplete; raised before serving anything."""

    code = "configuration_error"
