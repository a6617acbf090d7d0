"""The hub's HTTP APIs as the web app calls them, always with the signed-in person's token.

Passing the person's own token (never a service credential) means the router and the notifier
apply their access rules to every page: this app cannot show more than the person may see.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextvars import ContextVar
from typing import Any

import httpx

log = logging.getLogger(__name__)

FHIR_JSON = "application/fhir+json"

BROWSER_ADDRESS: ContextVar[str | None] = ContextVar("browser_address", default=None)
"""The address of the browser this request serves (set per request by the app), passed on as
X-Forwarded-For so the services' audit log says where a read really came from."""


def _headers(token: str, accept: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "Accept": accept}
    if address := BROWSER_ADDRESS.get():
        headers["X-Forwarded-For"] = address
    return headers


class ApiRefused(Exception):
    """An API said no (4xx): the status, and its explanation in words safe to show."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ApiUnavailable(Exception):
    """An API could not be reached or failed (5xx): the page says which one."""

    def __init__(self, service: str) -> None:
        super().__init__(f"the {service} is not answering")
        self.service = service


def _explanation(response: httpx.Response) -> str:
    """The OperationOutcome's diagnostics, or FastAPI's `detail`: the API's own words."""
    try:
        body = response.json()
    except ValueError:
        return f"refused ({response.status_code})"
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        texts = [str(i.get("diagnostics") or i.get("code")) for i in body.get("issue") or []]
        return "; ".join(texts) or f"refused ({response.status_code})"
    if isinstance(body, dict) and "detail" in body:
        detail = body["detail"]
        if isinstance(detail, list):
            return "; ".join(str(d.get("msg", d)) for d in detail if isinstance(d, dict))
        return str(detail)
    return f"refused ({response.status_code})"


async def _relay(response: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in response.aiter_bytes():
            yield chunk
    finally:
        await response.aclose()


class HubApi:
    """The router, notifier and intake APIs, over one pooled HTTP client."""

    def __init__(
        self, client: httpx.AsyncClient, *, intake_url: str, router_url: str, notifier_url: str
    ) -> None:
        self._client = client
        self._urls = {"intake": intake_url, "router": router_url, "notifier": notifier_url}

    async def _send(
        self,
        service: str,
        method: str,
        path: str,
        token: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | None = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """The API's answer below 500; ApiUnavailable when it cannot give one."""
        sent = {**_headers(token, f"{FHIR_JSON}, application/json"), **(headers or {})}
        if content_type:
            sent["Content-Type"] = content_type
        try:
            response = await self._client.request(
                method,
                self._urls[service].rstrip("/") + path,
                params=params,
                json=json,
                content=content,
                headers=sent,
            )
        except httpx.HTTPError as error:
            log.warning("%s %s on the %s failed: %s", method, path, service, type(error).__name__)
            raise ApiUnavailable(service) from None
        if response.status_code >= 500:
            log.warning("%s %s on the %s: HTTP %d", method, path, service, response.status_code)
            raise ApiUnavailable(service)
        return response

    async def _call(
        self,
        service: str,
        method: str,
        path: str,
        token: str,
        **request: Any,
    ) -> Any:
        """The API's JSON answer; ApiRefused with its explanation for a 4xx."""
        response = await self._send(service, method, path, token, **request)
        if response.status_code >= 400:
            raise ApiRefused(response.status_code, _explanation(response))
        return response.json()

    # Router: the link worker's and the coordinator's Tasks.

    async def router_tasks(
        self,
        token: str,
        *,
        owner: str | None = None,
        status: str | None = None,
        business_status: str | None = None,
        count: int = 500,
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"_count": count}
        if owner:
            params["owner"] = f"PractitionerRole/{owner}"
        if status:
            params["status"] = status
        if business_status:
            params["business-status"] = business_status
        bundle = await self._call("router", "GET", "/fhir/Task", token, params=params)
        return [entry["resource"] for entry in bundle.get("entry") or []]

    async def router_task(self, token: str, task_id: str) -> dict[str, Any]:
        task: dict[str, Any] = await self._call("router", "GET", f"/fhir/Task/{task_id}", token)
        return task

    async def accept(self, token: str, task_id: str) -> None:
        await self._call("router", "POST", f"/fhir/Task/{task_id}/$accept", token)

    async def decline(self, token: str, task_id: str, reason: str) -> None:
        await self._call(
            "router", "POST", f"/fhir/Task/{task_id}/$decline", token, json={"reason": reason}
        )

    async def update_status(self, token: str, task_id: str, body: dict[str, Any]) -> None:
        await self._call("router", "POST", f"/fhir/Task/{task_id}/$update-status", token, json=body)

    async def find_services(self, token: str, params: list[tuple[str, str]]) -> dict[str, Any]:
        """The router's directory search (a searchset Bundle), with the worker's filters."""
        result: dict[str, Any] = await self._call(
            "router", "GET", "/fhir/HealthcareService", token, params=params
        )
        return result

    # Router: onward referrals (a link worker's, or those sent to an organisation).

    async def onward_tasks(self, token: str, *, part_of: str | None = None) -> list[dict[str, Any]]:
        """Onward Tasks: those of one referral (`part_of`), or all the caller may see (an
        organisation: those sent to it)."""
        params: dict[str, Any] = {"_count": 500}
        if part_of:
            params["part-of"] = f"Task/{part_of}"
        bundle = await self._call("router", "GET", "/fhir/Task", token, params=params)
        return [entry["resource"] for entry in bundle.get("entry") or []]

    async def onward_request(self, token: str, onward_id: str) -> dict[str, Any]:
        """An onward ServiceRequest (the person as shared), for the organisation it went to."""
        found: dict[str, Any] = await self._call(
            "router", "GET", f"/fhir/ServiceRequest/{onward_id}", token
        )
        return found

    async def refer_onward(
        self, token: str, referral_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        task: dict[str, Any] = await self._call(
            "router", "POST", f"/fhir/Task/{referral_id}/$refer-onward", token, json=body
        )
        return task

    async def attendance(
        self, token: str, onward_id: str, attendance: str, reason: str | None
    ) -> None:
        body: dict[str, Any] = {"attendance": attendance}
        if reason:
            body["reason"] = reason
        await self._call("router", "POST", f"/fhir/Task/{onward_id}/$attendance", token, json=body)

    async def waiting(self, token: str) -> list[dict[str, Any]]:
        answer = await self._call("router", "GET", "/coordination/waiting", token)
        return list(answer.get("referrals") or [])

    async def workers(self, token: str) -> list[dict[str, Any]]:
        """The link workers of the coordinator's boroughs, by name, with load and limits."""
        answer = await self._call("router", "GET", "/coordination/workers", token)
        return list(answer.get("workers") or [])

    async def assign(self, token: str, task_id: str, worker: str) -> None:
        await self._call(
            "router", "POST", f"/fhir/Task/{task_id}/$assign", token, json={"worker": worker}
        )

    async def _found(self, service: str, path: str, token: str) -> dict[str, Any] | None:
        """A read that may find nothing (404: none, or not the caller's): None then."""
        try:
            found: dict[str, Any] = await self._call(service, "GET", path, token)
        except ApiRefused as refusal:
            if refusal.status == 404:
                return None
            raise
        return found

    async def care_plan(self, token: str, task_id: str) -> dict[str, Any] | None:
        return await self._found("router", f"/fhir/CarePlan/{task_id}", token)

    async def record_care_plan(
        self, token: str, task_id: str, body: dict[str, Any], version: int | None
    ) -> None:
        headers = {"If-Match": f'W/"{version}"'} if version else {}
        await self._call(
            "router", "POST", f"/fhir/Task/{task_id}/$care-plan", token, json=body, headers=headers
        )

    async def person(self, token: str, task_id: str) -> dict[str, Any] | None:
        """The referral's ServiceRequest: the person, for the worker who accepted it."""
        return await self._found("notifier", f"/fhir/ServiceRequest/{task_id}", token)

    async def same_person(self, token: str, referral_id: str) -> list[dict[str, Any]] | None:
        """Every referral of the person this one is about (None: not the caller's)."""
        found = await self._found("notifier", f"/people/referrals/{referral_id}", token)
        return list(found.get("referrals") or []) if found else None

    async def person_reviews(self, token: str) -> list[dict[str, Any]]:
        answer = await self._call("notifier", "GET", "/coordination/people/reviews", token)
        return list(answer.get("reviews") or [])

    async def decide_person_review(self, token: str, review_id: str, decision: str) -> None:
        path = f"/coordination/people/reviews/{review_id}/${decision}"
        await self._call("notifier", "POST", path, token)

    # Notifier: what referrers (and coordinators) read.

    async def alerts(self, token: str) -> list[dict[str, Any]]:
        answer = await self._call("notifier", "GET", "/coordination/alerts", token)
        return list(answer.get("alerts") or [])

    async def notifier_tasks(
        self, token: str, *, requester: str | None = None, count: int = 500
    ) -> list[dict[str, Any]]:
        params: dict[str, Any] = {"_count": count}
        if requester:
            params["requester"] = requester
        bundle = await self._call("notifier", "GET", "/fhir/Task", token, params=params)
        return [entry["resource"] for entry in bundle.get("entry") or []]

    async def notifier_task(self, token: str, task_id: str) -> dict[str, Any]:
        task: dict[str, Any] = await self._call("notifier", "GET", f"/fhir/Task/{task_id}", token)
        return task

    async def notifier_task_history(self, token: str, task_id: str) -> list[dict[str, Any]]:
        """Every version of the Task, newest first (a history Bundle)."""
        bundle = await self._call("notifier", "GET", f"/fhir/Task/{task_id}/_history", token)
        return [entry["resource"] for entry in bundle.get("entry") or []]

    async def refused_message(self, token: str, rejection_id: str) -> dict[str, Any]:
        """What the agency sent in a refused referral: `{rejection, source, original}`."""
        message: dict[str, Any] = await self._call(
            "notifier", "GET", f"/fhir/Task/{rejection_id}/$refused-message", token
        )
        return message

    async def referrals_csv(self, token: str) -> AsyncIterator[bytes]:
        """The notifier's referrals report, streamed as it comes (never held whole here).
        Refusals and failures raise before the first byte, so the page can still explain."""
        url = self._urls["notifier"].rstrip("/") + "/reports/referrals.csv"
        request = self._client.build_request("GET", url, headers=_headers(token, "text/csv"))
        try:
            response = await self._client.send(request, stream=True)
        except httpx.HTTPError as error:
            log.warning("GET the referrals report failed: %s", type(error).__name__)
            raise ApiUnavailable("notifier") from None
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            if response.status_code >= 500:
                log.warning("GET the referrals report: HTTP %d", response.status_code)
                raise ApiUnavailable("notifier")
            raise ApiRefused(response.status_code, _explanation(response))
        return _relay(response)

    # Intake: an agency resubmitting a corrected referral.

    async def submit(
        self, token: str, source: str, body: bytes, content_type: str
    ) -> dict[str, Any]:
        """Post a referral as the agency; intake's answer, refusals included (its 422 names
        every problem of every referral, which is what the page must show; its 409 a resend
        that clashes with a referral received before)."""
        response = await self._send(
            "intake",
            "POST",
            f"/referrals/{source}",
            token,
            content=body,
            content_type=content_type,
        )
        if response.status_code in (202, 409, 422):
            answer: dict[str, Any] = response.json()
            return answer
        raise ApiRefused(response.status_code, _explanation(response))

    async def ready(self) -> dict[str, bool]:
        """Whether the router and the notifier answer their liveness checks."""
        results = {}
        for service in ("router", "notifier"):
            try:
                response = await self._client.get(
                    self._urls[service].rstrip("/") + "/health/live", timeout=2.0
                )
                results[service] = response.status_code == 200
            except httpx.HTTPError:
                results[service] = False
        return results
