"""HTTP entrypoints for link workers (and coordinators reading): FHIR-style Task API.

- `GET /fhir/Task?owner=PractitionerRole/<id>&status=…` a searchset Bundle
- `GET /fhir/Task/<id>` the latest snapshot (ETag: its version)
- `POST /fhir/Task/<id>/$accept`, `$decline` (reason), `$update-status` (status,
  businessStatus, reason, outputs): FHIR operations rather than PUT/PATCH of the Task, because
  the router owns the Task and only these moves are allowed; each answers the new snapshot.

A link worker sees and changes only Tasks they hold or are offered; a coordinator reads the
Tasks of their boroughs; a community organisation sees, accepts and declines only the onward
referrals sent to it (`service_layer/onward.py`; `?part-of=Task/<id>` lists a referral's onward
Tasks for those who may see the referral). Anything else answers 404, as if it did not exist. Every Task read
(they carry routing facts about the person) and every change is in the audit log
(hub_common.security.audit): a read's entry is committed before the answer, a change's with it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from hub_common.fhir.outcome import Issue, operation_outcome
from hub_common.fhir.search import Page, is_strict, parse_search, searchset
from hub_common.http.fhir import read_response
from hub_common.messaging.envelope import TRACEPARENT
from hub_common.security.audit import AuditLogDep, ids_of
from hub_common.security.auth import Principal, require
from hub_common.storage.stored_text import StorableText
from hub_router.domain.access import Viewer
from hub_router.domain.offers import TaskNotVisible
from hub_router.domain.task_status import BusinessStatus, TaskStatus, TransitionRefused
from hub_router.entrypoints.outcome_bodies import OutputsBody
from hub_router.service_layer.commands import AcceptOffer, ChangeTaskStatus, DeclineOffer
from hub_router.service_layer.coordination import UnknownWorker
from hub_router.service_layer.onward import ONWARD_PREFIX, OnwardReferrals
from hub_router.service_layer.routing import RoutingService
from hub_router.service_layer.task_progress import TaskProgress
from hub_router.service_layer.views import TaskViews

FHIR_JSON_MEDIA = "application/fhir+json"
OWNER_PREFIX = "PractitionerRole/"
MAX_COUNT = 500
SEARCH_PARAMETERS = ("owner", "status", "business-status", "part-of")

LinkWorker = Annotated[Principal, Depends(require("link_worker"))]
Reader = Annotated[Principal, Depends(require("link_worker", "coordinator", "organisation"))]
Answerer = Annotated[Principal, Depends(require("link_worker", "organisation"))]


def viewer_of(principal: Principal) -> Viewer:
    if principal.role == "link_worker":
        return Viewer(worker_id=principal.subject)
    return Viewer(boroughs=frozenset(principal.boroughs))


class DeclineBody(BaseModel):
    """Why the offer is declined (kept for coordinators; never published or logged)."""

    reason: StorableText = Field(min_length=1, max_length=500, description="Why you cannot take it")


class StatusChangeBody(BaseModel):
    """A move through the Task status machine: a status, a businessStatus step, or both."""

    model_config = ConfigDict(populate_by_name=True)

    status: TaskStatus | None = Field(
        default=None, description="New Task.status (omit to change only the step)"
    )
    business_status: BusinessStatus | None = Field(
        default=None,
        alias="businessStatus",
        description="New Task.businessStatus step (omit to keep the current one when it fits)",
    )
    reason: StorableText | None = Field(
        default=None,
        max_length=500,
        description="Task.statusReason.text: required for on-hold, failed and cancelled",
    )
    outputs: OutputsBody | None = Field(
        default=None,
        description="What came of it: wellbeing measures, support offered, a summary (required "
        "when completing unless recorded before); replaces the outputs recorded before",
    )


def fhir(resource: dict[str, Any], status_code: int = 200) -> JSONResponse:
    headers = {}
    if version := resource.get("meta", {}).get("versionId"):
        headers["ETag"] = f'W/"{version}"'
    return JSONResponse(
        resource, status_code=status_code, media_type=FHIR_JSON_MEDIA, headers=headers
    )


def refusal(status_code: int, message: str, code: str, path: str = "Task") -> JSONResponse:
    """An OperationOutcome answer naming `path` (the resource, or the field at fault)."""
    return JSONResponse(
        operation_outcome([Issue(path, message, code=code)]),
        status_code=status_code,
        media_type=FHIR_JSON_MEDIA,
    )


def install_error_handlers(app: FastAPI) -> None:
    """Domain refusals become OperationOutcomes: 404 not yours, 409 not now, 422 no such worker."""

    async def not_visible(request: Request, error: Exception) -> JSONResponse:
        return refusal(404, f"no Task {error} that you can see", "not-found")

    async def refused(request: Request, error: Exception) -> JSONResponse:
        return refusal(409, str(error), "business-rule")

    async def unknown_worker(request: Request, error: Exception) -> JSONResponse:
        return refusal(422, str(error), "value")

    app.add_exception_handler(TaskNotVisible, not_visible)
    app.add_exception_handler(TransitionRefused, refused)
    app.add_exception_handler(UnknownWorker, unknown_worker)


def task_router(
    views: TaskViews, routing: RoutingService, progress: TaskProgress, onward: OnwardReferrals
) -> APIRouter:
    router = APIRouter(prefix="/fhir", tags=["tasks"])

    @router.get("/Task", summary="Search Tasks")
    async def search_tasks(
        principal: Reader,
        request: Request,
        audit: AuditLogDep,
        owner: Annotated[
            str | None,
            Query(description="PractitionerRole/<worker id>", pattern="^PractitionerRole/.+"),
        ] = None,
        status: Annotated[TaskStatus | None, Query(description="Task.status")] = None,
        business_status: Annotated[
            BusinessStatus | None, Query(alias="business-status", description="Task.businessStatus")
        ] = None,
        part_of: Annotated[
            str | None,
            Query(
                alias="part-of",
                description="Task/<referral id>: its onward Tasks",
                pattern="^Task/.+",
            ),
        ] = None,
        count: Annotated[
            str | None, Query(alias="_count", description=f"page size, at most {MAX_COUNT}")
        ] = None,
        prefer: Annotated[str | None, Header(description="handling=strict")] = None,
    ) -> JSONResponse:
        """Tasks you hold or are offered (link worker), of your boroughs (coordinator), or the
        onward referrals sent to your organisation (organisation). Newest first
        (`_sort=_lastUpdated` for oldest first), paged with `next`/`previous` links; `_id`,
        `_summary=count` and `_elements` as FHIR search defines them. An unknown parameter is
        ignored and left out of `self`, or refused under `Prefer: handling=strict`. Onward
        Tasks come as one page of at most `_count`."""
        search = parse_search(
            request.query_params.multi_items(),
            SEARCH_PARAMETERS,
            strict=is_strict(prefer),
            max_count=MAX_COUNT,
            descending_by_default=True,
        )
        if principal.role == "organisation" or part_of:
            if principal.role == "organisation":
                assert principal.organisation  # an organisation token always names one
                tasks = await onward.search_for_organisation(
                    principal.organisation,
                    status.value if status else None,
                    search.count,
                    part_of.removeprefix("Task/") if part_of else None,
                )
            else:
                assert part_of is not None
                tasks = await onward.of_referral(
                    viewer_of(principal), part_of.removeprefix("Task/"), search.count
                )
            if search.ids:
                tasks = [task for task in tasks if task["id"] in search.ids]
            page, total = Page(tasks, None, None), len(tasks)
        else:
            page, total = await views.page(
                viewer_of(principal),
                search,
                owner=owner.removeprefix(OWNER_PREFIX) if owner else None,
                status=status,
                business_status=business_status,
            )
        if page.rows and not search.summary_count:  # an empty page discloses nothing
            await audit.read(request, principal, "Task", ids_of(page.rows))
        bundle = searchset(page.rows, total, str(request.base_url), "/fhir/Task", search, page)
        return fhir(bundle)

    @router.get("/Task/{task_id}", summary="Read a Task")
    async def read_task(
        principal: Reader, task_id: str, request: Request, audit: AuditLogDep
    ) -> Response:
        """The Task's latest snapshot, if it is yours to see, with its version as ETag;
        `If-None-Match` with that version answers 304."""
        if principal.role == "organisation":
            assert principal.organisation
            task = await onward.read_for_organisation(task_id, principal.organisation)
        elif task_id.startswith(ONWARD_PREFIX):
            task = await onward.read_for_viewer(viewer_of(principal), task_id)
        else:
            task = await views.read(viewer_of(principal), task_id)
        await audit.read(request, principal, "Task", [task_id])
        return read_response(request, task)

    @router.post("/Task/{task_id}/$accept", summary="Accept an offer")
    async def accept_offer(
        principal: Answerer, task_id: str, request: Request, audit: AuditLogDep
    ) -> JSONResponse:
        """Take on a referral offered to you: status accepted, businessStatus allocated (a
        link worker); or an onward referral sent to your organisation (an organisation)."""
        if principal.role == "organisation":
            assert principal.organisation
            return fhir(
                await onward.answer(
                    task_id,
                    principal.organisation,
                    lambda o: o.accept(),
                    "accepted",
                    request.headers.get(TRACEPARENT),
                    audit.entry(request, principal, "update", "Task", [task_id]),
                )
            )
        changed = await progress.accept(
            AcceptOffer(
                task_id,
                principal.subject,
                request.headers.get(TRACEPARENT),
                audit.entry(request, principal, "update", "Task", [task_id]),
            )
        )
        return fhir(changed.snapshot)

    @router.post("/Task/{task_id}/$decline", summary="Decline an offer")
    async def decline_offer(
        principal: Answerer,
        task_id: str,
        body: DeclineBody,
        request: Request,
        audit: AuditLogDep,
    ) -> JSONResponse:
        """Turn down a referral offered to you; it goes to the next best worker.

        Answers 200 with an OperationOutcome: the Task is no longer yours to read. An
        organisation declining an onward referral sent to it gets the rejected Task back.
        """
        if principal.role == "organisation":
            assert principal.organisation
            reason = body.reason
            return fhir(
                await onward.answer(
                    task_id,
                    principal.organisation,
                    lambda o: o.decline(reason),
                    "declined",
                    request.headers.get(TRACEPARENT),
                    audit.entry(request, principal, "update", "Task", [task_id]),
                )
            )
        await routing.decline(
            DeclineOffer(
                task_id,
                principal.subject,
                body.reason,
                request.headers.get(TRACEPARENT),
                audit.entry(request, principal, "update", "Task", [task_id]),
            )
        )
        return JSONResponse(
            operation_outcome(
                [
                    Issue(
                        "Task",
                        f"offer of Task {task_id} declined",
                        severity="information",
                        code="informational",
                    )
                ]
            ),
            media_type=FHIR_JSON_MEDIA,
        )

    @router.post("/Task/{task_id}/$update-status", summary="Record progress")
    async def update_status(
        principal: LinkWorker,
        task_id: str,
        body: StatusChangeBody,
        request: Request,
        audit: AuditLogDep,
    ) -> JSONResponse:
        """Move a Task you hold through the status machine; refused moves answer 409."""
        outputs = body.outputs.to_domain() if body.outputs else None
        changed = await progress.change_status(
            ChangeTaskStatus(
                task_id,
                principal.subject,
                body.status,
                body.business_status,
                body.reason,
                outputs,
                request.headers.get(TRACEPARENT),
                audit.entry(request, principal, "update", "Task", [task_id]),
            )
        )
        return fhir(changed.snapshot)

    return router
