"""Request bodies over a size limit are refused with 413 and an OperationOutcome while they
stream in, whether the client declared the size (Content-Length) or not (chunked): nothing
larger than the limit is ever held in memory, whichever route reads the body."""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub_common.fhir.outcome import Issue, operation_outcome


class BodyTooLarge(HTTPException):
    """Raised by the limited `receive`: an HTTPException, so FastAPI's body parsing lets it
    through to the app's 413 handler (any other error there would become a vague 400)."""

    def __init__(self) -> None:
        super().__init__(413, "request body too large")


def too_large(max_bytes: int, advice: str = "") -> JSONResponse:
    """413 with an OperationOutcome giving the limit, and `advice` (what the limit is, what to
    do) when the service has some."""
    reason = f"the body is larger than {max_bytes} bytes"
    reason += f", {advice}" if advice else ", the most this service reads in one request"
    outcome = operation_outcome([Issue("(body)", reason, code="too-long")])
    return JSONResponse(outcome, status_code=413, media_type="application/fhir+json")


class BodySizeLimit:
    """ASGI middleware: a declared size over the limit is answered at once, unread; a body
    that grows past it fails the route's read with BodyTooLarge (answered by too_large)."""

    def __init__(self, app: ASGIApp, max_bytes: int, advice: str = "") -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.advice = advice

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await too_large(self.max_bytes, self.advice)(scope, receive, send)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, limited_receive, tracked_send)
        except Exception as error:
            # A middleware reading the body in a task of its own (BaseHTTPMiddleware) lets
            # the error escape the routes, and their handler, wrapped in an ExceptionGroup.
            if started or not _only_too_large(error):
                raise
            await too_large(self.max_bytes, self.advice)(scope, receive, send)


def _only_too_large(error: Exception) -> bool:
    if isinstance(error, ExceptionGroup):
        matched, rest = error.split(BodyTooLarge)
        return matched is not None and rest is None
    return isinstance(error, BodyTooLarge)
