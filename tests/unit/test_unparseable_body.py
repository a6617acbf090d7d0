"""A body FastAPI cannot parse is refused like every other bad input: an OperationOutcome that
names the body; HTTP errors the routes raise themselves keep their own answers."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub_common.http.service_app import unreadable_body


class Decline(BaseModel):
    reason: str


def client() -> httpx.AsyncClient:
    app = FastAPI()
    app.add_exception_handler(StarletteHTTPException, unreadable_body)

    @app.post("/offers/{offer_id}/decline")
    async def decline(offer_id: str, body: Decline) -> dict[str, str]:
        if offer_id == "gone":
            raise HTTPException(status_code=404, detail="no such offer")
        return {"reason": body.reason}

    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://hub")


async def test_invalid_utf8_is_refused_with_an_outcome_naming_the_body() -> None:
    async with client() as http:
        answer = await http.post(
            "/offers/o1/decline",
            content=b'{"reason": "\xff\xfe"}',
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    assert answer.headers["content-type"].startswith("application/fhir+json")
    outcome = answer.json()
    assert outcome["resourceType"] == "OperationOutcome"
    [issue] = outcome["issue"]
    assert issue["expression"] == ["(body)"] and issue["code"] == "structure"
    assert "\\xff" not in answer.text  # nothing of the body is echoed


async def test_nesting_too_deep_for_the_decoder_is_refused_the_same_way() -> None:
    deep = b'{"reason": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    async with client() as http:
        answer = await http.post(
            "/offers/o1/decline", content=deep, headers={"Content-Type": "application/json"}
        )
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["expression"] == ["(body)"]


async def test_a_route_s_own_http_errors_keep_their_answer() -> None:
    async with client() as http:
        answer = await http.post("/offers/gone/decline", json={"reason": "on leave"})
    assert answer.status_code == 404
    assert answer.json() == {"detail": "no such offer"}


async def test_a_readable_body_still_reaches_the_route() -> None:
    async with client() as http:
        answer = await http.post("/offers/o1/decline", json={"reason": "on leave"})
    assert answer.status_code == 200 and answer.json() == {"reason": "on leave"}
