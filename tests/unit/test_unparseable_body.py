"""A body FastAPI cannot parse is refused like every other bad input: an OperationOutcome that
names the body; HTTP errors the routes raise themselves keep their own answers."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from hub_common.service_app import unreadable_body


class Decline(BaseModel):
    reason: str


def client() -> TestClient:
    app = FastAPI()
    app.add_exception_handler(StarletteHTTPException, unreadable_body)

    @app.post("/offers/{offer_id}/decline")
    async def decline(offer_id: str, body: Decline) -> dict[str, str]:
        if offer_id == "gone":
            raise HTTPException(status_code=404, detail="no such offer")
        return {"reason": body.reason}

    return TestClient(app)


def test_invalid_utf8_is_refused_with_an_outcome_naming_the_body() -> None:
    answer = client().post(
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


def test_nesting_too_deep_for_the_decoder_is_refused_the_same_way() -> None:
    deep = b'{"reason": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    answer = client().post(
        "/offers/o1/decline", content=deep, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    assert answer.json()["issue"][0]["expression"] == ["(body)"]


def test_a_route_s_own_http_errors_keep_their_answer() -> None:
    answer = client().post("/offers/gone/decline", json={"reason": "on leave"})
    assert answer.status_code == 404
    assert answer.json() == {"detail": "no such offer"}


def test_a_readable_body_still_reaches_the_route() -> None:
    answer = client().post("/offers/o1/decline", json={"reason": "on leave"})
    assert answer.status_code == 200 and answer.json() == {"reason": "on leave"}
