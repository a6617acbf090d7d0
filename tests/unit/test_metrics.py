"""hub_common.observability.metrics: counters move only when the decision's transaction commits, and
/metrics answers operators alone, with series that name no one."""

from __future__ import annotations

from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry, Counter
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from hub_common.observability.metrics import count_on_commit
from hub_common.security.auth import Principal, issue_token
from hub_web.bootstrap import build_app


def test_a_count_lands_on_commit_and_never_on_rollback() -> None:
    counter = Counter("decisions", "test", ["outcome"], registry=CollectorRegistry())
    engine = create_engine("sqlite://")
    with Session(engine) as session:
        session.execute(text("select 1"))
        count_on_commit(session, counter.labels(outcome="offered"))
        assert counter.labels(outcome="offered")._value.get() == 0  # not yet committed
        session.commit()
        assert counter.labels(outcome="offered")._value.get() == 1

        session.execute(text("select 1"))
        count_on_commit(session, counter.labels(outcome="offered"), 5)
        session.rollback()
        session.execute(text("select 1"))
        session.commit()  # the rolled-back count is gone for good
        assert counter.labels(outcome="offered")._value.get() == 1


def test_metrics_answer_operators_only_with_route_templates() -> None:
    app = build_app()
    client = TestClient(app)
    secret = app.state.settings.auth_secret
    operator = issue_token(secret, Principal("operator", "prometheus"))
    worker = issue_token(secret, Principal("link_worker", "lw-1"))
    assert client.get("/metrics", follow_redirects=False).status_code == 401
    refused = client.get("/metrics", headers={"Authorization": f"Bearer {worker}"})
    assert refused.status_code == 403
    client.get("/no/such/page/person-12345")
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {operator}"})
    assert answer.status_code == 200
    assert "http_request_duration_seconds" in answer.text
    assert "person-12345" not in answer.text  # an unknown path counts as "none", not itself
