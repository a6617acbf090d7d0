"""HTTP entrypoints for operators: dead-lettered deliveries, listed and sent again."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from hub_notifier.entrypoints.fhir_http import OperatorDep
from hub_notifier.service_layer.dead_letters import DeadLetters, NoStatusTopic


class DeadLetter(BaseModel):
    """A delivery that gave up: ids, counts and the kind of the last error, never content."""

    delivery_id: str = Field(description="Also the Idempotency-Key it was sent with")
    subscription_id: str | None = Field(description="None for an e-mail")
    event_number: int | None = Field(description="The subscription's event number, if any")
    kind: str = Field(description="handshake, event-notification or email")
    channel: str = Field(description="rest-hook, message or email")
    referral_id: str | None
    attempts: int
    last_error: str | None = Field(description="e.g. `HTTP 503`, `timeout`, `cannot connect`")
    first_attempt_at: datetime | None
    last_attempt_at: datetime | None
    created_at: datetime


class Retried(BaseModel):
    """The dead letter is queued again (pending), or published on Kafka (delivered)."""

    delivery_id: str
    status: str = "pending"


def operator_router(dead_letters: DeadLetters) -> APIRouter:
    router = APIRouter(prefix="/operator/dead-letters", tags=["operator"])

    @router.get("", response_model=list[DeadLetter])
    async def list_dead_letters(
        _operator: OperatorDep,
        subscription_id: Annotated[str | None, Query()] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[DeadLetter]:
        """Deliveries that gave up, oldest first."""
        rows = await dead_letters.list(subscription_id, limit)
        return [DeadLetter.model_validate(row._asdict()) for row in rows]

    @router.post(
        "/{delivery_id}/retry",
        status_code=202,
        response_model=Retried,
        responses={
            404: {"description": "No dead letter with this id"},
            409: {"description": "A Kafka delivery whose source still has no status topic"},
        },
    )
    async def retry_dead_letter(delivery_id: str, _operator: OperatorDep) -> Retried:
        """Send a dead letter again, with its original event number: a webhook or e-mail with
        a new retry window (pending), a Kafka delivery published now (delivered)."""
        try:
            if not await dead_letters.retry(delivery_id):
                raise HTTPException(404, detail="no dead letter with this id")
        except NoStatusTopic as error:
            raise HTTPException(
                409, detail=f"no referrals.status topic for the source {error}"
            ) from None
        return Retried(delivery_id=delivery_id, status=await dead_letters.status(delivery_id))

    return router
