"""What a route declares: who may call it, how it is recorded, what it costs, what it takes.

Every field of ``Route`` is required, so a route that declares nothing does not compile; the HTTP
app (``app.py``) enforces the declarations in one place, in this order, before the handler runs:
authenticate -> tenant allowlist -> rate limit -> capability -> handler -> audit record. The
OpenAPI document (``openapi.py``) is generated from the same declarations.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel

from auditlog.auth.access import Capability

if TYPE_CHECKING:
    from starlette.responses import Response

    from auditlog.http.call import Call, Streamed

Handler = Callable[["Call"], Awaitable["Response | Streamed"]]


# -- Access ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Public:
    """No token: anyone may call it. ``why`` says why that is safe."""

    why: str


Access = Capability | Public


# -- Audit -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Audited:
    """The call is recorded as ``auditlog.<action>`` in the log of each tenant it touched, durable
    before the answer. ``before_stream``: a streamed answer is recorded before its first byte
    (status ``started``) and again with its outcome when the stream ends."""

    action: str
    before_stream: bool = False


@dataclass(frozen=True, slots=True)
class NotAudited:
    """Not recorded; ``why`` says why (a write is its own record; a probe reads nothing)."""

    why: str


Audit = Audited | NotAudited


# -- Cost --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Free:
    """Charged to no bucket; ``why`` says why that cannot be abused."""

    why: str


@dataclass(frozen=True, slots=True)
class Requests:
    """``tokens`` from the caller's request bucket."""

    tokens: int = 1


@dataclass(frozen=True, slots=True)
class Events:
    """The caller's and the tenant's event buckets, one token per event in the body
    (``count`` turns the decoded body into that number; a malformed body counts as one)."""

    count: Callable[[Any], int]


@dataclass(frozen=True, slots=True)
class Window:
    """The caller's request bucket, one token per ``days`` (started) of the requested time window:
    a seven-year export costs what its pages would."""

    days: int = 30


Cost = Free | Requests | Events | Window


# -- Parameters and bodies -----------------------------------------------------------------------

ParamKind = Literal["string", "flag", "count", "uuid", "tenant", "time", "map"]


@dataclass(frozen=True, slots=True)
class Param:
    """One path or query parameter. ``count``: a non-negative integer; ``flag``: true|false;
    ``tenant``: a tenant id; ``time``: RFC 3339; ``map``: ``name[key]=value`` pairs (OpenAPI's
    deepObject), documented here and parsed by the handler of an ``open_query`` route."""

    name: str
    kind: ParamKind = "string"
    where: Literal["query", "path"] = "query"
    required: bool = False
    repeated: bool = False
    description: str = ""
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Body:
    """A JSON request body of at most ``limit`` bytes, documented by ``model``."""

    model: type[BaseModel]
    limit: int


@dataclass(frozen=True, slots=True)
class Answer:
    """The success answer: its status, what it carries (a model, or a media type and text)."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    media_types: tuple[str, ...] = ("application/json",)


# -- The route ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    function: str  # the Cloud Function that serves it: ingest, query, retention, or * for all
    operation_id: str
    handler: Handler
    access: Access
    audit: Audit
    cost: Cost
    summary: str
    answer: Answer
    errors: tuple[int, ...]
    description: str = ""
    params: tuple[Param, ...] = ()
    # Query parameters beyond `params` are refused by name unless the handler parses them itself
    # (the search filters, whose names are open-ended: `metadata.<key>`).
    open_query: bool = False
    body: Body | None = None
    tags: tuple[str, ...] = field(default=())

    @property
    def pattern(self) -> re.Pattern[str]:
        """The path as a regular expression, one named group per ``{parameter}`` (one path
        segment; ``{parameter:path}``: one or more)."""
        path = re.sub(r"\{(\w+):path\}", r"(?P<\1>[^?#]+)", self.path)
        return re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path) + "$")

    @property
    def template(self) -> str:
        """The path as OpenAPI writes it (``{parameter}`` for both kinds)."""
        return re.sub(r"\{(\w+):path\}", r"{\1}", self.path)

    @property
    def multi_segment(self) -> frozenset[str]:
        """Path parameters that span several segments."""
        return frozenset(re.findall(r"\{(\w+):path\}", self.path))

    @property
    def capability(self) -> Capability | None:
        """What the caller must hold; None for a public route."""
        return None if isinstance(self.access, Public) else self.access
