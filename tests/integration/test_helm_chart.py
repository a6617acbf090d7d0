"""The Helm chart (deploy/helm/referral-hub) lints, renders, and is valid Kubernetes.

helm and kubeconform come from the Go module proxy, pinned (tools/k8s/install.sh), and the
schemas from the k8s.io/kubernetes and KEDA modules, so `-strict` validation needs no network
beyond the registries. Then a few properties an operator relies on: every Deployment is probed
and bounded, each has a disruption budget and network policy, credentials are only ever
referenced from the Secret, and the lag scalers name the consumer groups the services really use.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic_settings import BaseSettings

from hub_common.region.service_area import load_service_area
from tests.support.k8s_tools import CHART, REPO, K8sTools, ToolFailed, documents, install

EXTERNAL = REPO / "deploy" / "helm" / "examples" / "external-sasl.yaml"
SECRET_VALUES = {
    "authSecret": "test-auth-secret-8f3a",
    "databasePassword": "test-db-password-51c2",
    "kafkaPasswordIntake": "test-kafka-intake-0d9e",
    "kafkaPasswordRouter": "test-kafka-router-77ab",
    "kafkaPasswordNotifier": "test-kafka-notifier-c410",
    "kafkaPasswordAdmin": "test-kafka-admin-2b6f",
    "smtpPassword": "test-smtp-password-9e01",
}
AREA = REPO / "tests" / "fixtures" / "service-area-manchester.json"
CENTROIDS = REPO / "services" / "common" / "hub_common" / "data" / "postcode-district-centroids.csv"
REGION_MOUNT = "/etc/referral-hub/region/"
EXTERNAL_ARGS = (
    "-f",
    str(EXTERNAL),
    "--set-file",
    f"region.serviceArea={AREA}",
    "--set-file",
    f"region.districtCentroids={CENTROIDS}",
    "--set",
    "secrets.create=true",
    "--set-string",
    ",".join(f"secrets.values.{key}={value}" for key, value in SECRET_VALUES.items()),
)
COMPONENTS = ("intake", "router", "notifier", "web")
# `make test` installs the tools first; run alone, the first test may build helm (minutes).
pytestmark = pytest.mark.timeout(1800)
CONSUMERS = ("intake", "router", "notifier")


@pytest.fixture(scope="module")
def tools() -> K8sTools:
    try:
        return install()
    except ToolFailed as error:
        pytest.fail(str(error))


@pytest.fixture(scope="module")
def rendered(tools: K8sTools) -> Iterator[dict[str, str]]:
    yield {"default": tools.template(), "external": tools.template(*EXTERNAL_ARGS)}


def by_kind(manifests: str, kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in documents(manifests) if d["kind"] == kind}


def component(obj: dict[str, Any]) -> str:
    return str(obj["metadata"]["labels"]["app.kubernetes.io/component"])


def containers(manifests: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for kind in ("Deployment", "Job"):
        for name, obj in by_kind(manifests, kind).items():
            for container in obj["spec"]["template"]["spec"]["containers"]:
                yield name, container


@pytest.mark.parametrize("values", [(), ("-f", str(EXTERNAL))], ids=["default", "external"])
def test_the_chart_lints_clean(tools: K8sTools, values: tuple[str, ...]) -> None:
    done = tools.helm("lint", "--strict", str(CHART), *values, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in done.stdout


@pytest.mark.parametrize("variant", ["default", "external"])
def test_every_rendered_object_is_valid_against_its_schema(
    tools: K8sTools, rendered: dict[str, str], variant: str
) -> None:
    report = tools.kubeconform(rendered[variant])
    problems = [r for r in report.get("resources", []) if r["status"] != "statusValid"]
    assert not problems, problems
    summary = report["summary"]
    assert summary["invalid"] == summary["errors"] == summary["skipped"] == 0, summary
    assert summary["valid"] == len(documents(rendered[variant])) > 0


def test_strict_validation_refuses_a_misspelt_field(
    tools: K8sTools, rendered: dict[str, str]
) -> None:
    """Proof the schemas are strict: a typo Kubernetes would silently drop is refused."""
    misspelt = rendered["default"].replace("maxUnavailable: 1\n", "maxUnavailabel: 1\n", 1)
    assert misspelt != rendered["default"]
    report = tools.kubeconform(misspelt)
    assert report["summary"]["invalid"] == 1, report["summary"]
    assert "maxUnavailabel" in str(report["resources"])


@pytest.mark.parametrize("variant", ["default", "external"])
def test_every_deployment_is_probed_bounded_and_not_root(
    rendered: dict[str, str], variant: str
) -> None:
    deployments = by_kind(rendered[variant], "Deployment")
    assert sorted(component(d) for d in deployments.values()) == sorted(COMPONENTS)
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True, name
        assert pod["automountServiceAccountToken"] is False, name
        (container,) = pod["containers"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live", name
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready", name
        assert container["startupProbe"]["httpGet"]["path"] == "/health/live", name
        for bound in ("requests", "limits"):
            assert set(container["resources"][bound]) == {"cpu", "memory"}, (name, bound)
        assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
        assert container["securityContext"]["allowPrivilegeEscalation"] is False, name


def test_each_service_has_a_disruption_budget_and_a_service(rendered: dict[str, str]) -> None:
    manifests = rendered["default"]
    deployments = by_kind(manifests, "Deployment")
    budgets = by_kind(manifests, "PodDisruptionBudget")
    services = by_kind(manifests, "Service")
    for deployment in deployments.values():
        labels = deployment["spec"]["selector"]["matchLabels"]
        assert [b for b in budgets.values() if b["spec"]["selector"]["matchLabels"] == labels]
        assert [s for s in services.values() if s["spec"]["selector"] == labels]
    assert len(budgets) == len(deployments)


@pytest.mark.parametrize("variant", ["default", "external"])
def test_network_policies_let_each_pod_reach_only_what_it_needs(
    rendered: dict[str, str], variant: str
) -> None:
    policies = {
        component(p): p["spec"] for p in by_kind(rendered[variant], "NetworkPolicy").values()
    }
    assert set(policies) == {*COMPONENTS, "migrate"}
    external = variant == "external"
    kafka_port, postgres_port = (9096 if external else 9092), 5432

    def egress_ports(spec: dict[str, Any]) -> set[int]:
        return {port["port"] for rule in spec["egress"] for port in rule.get("ports", [])}

    for name in ("intake", "router", "notifier", "migrate"):
        spec = policies[name]
        assert spec["policyTypes"] == ["Ingress", "Egress"]
        assert {kafka_port, postgres_port, 53} <= egress_ports(spec), name
        if external:  # peers named: nothing else on those ports
            assert all(rule.get("to") for rule in spec["egress"]), name
    assert policies["migrate"]["ingress"] == []
    # The web app reaches the three APIs (DNS, the trace collector), not Kafka nor the database.
    web = policies["web"]
    assert egress_ports(web) == {53, 8001, 8002, 8003} | ({4318} if external else set())
    reached = {
        peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
        for rule in web["egress"]
        for peer in rule.get("to", [])
        if "podSelector" in peer and "namespaceSelector" not in peer
    }
    assert reached == {"intake", "router", "notifier"}
    # Each API lets the web app in.
    for name in ("intake", "router", "notifier"):
        senders = [peer for rule in policies[name]["ingress"] for peer in rule["from"]]
        assert {"podSelector": {"matchLabels": web_labels(rendered[variant])}} in senders, name
    # Traces reach the collector from every pod, when one is named.
    for name, spec in policies.items():
        assert (4318 in egress_ports(spec)) is external, name
    # Webhooks: public addresses only.
    hooks = [
        r for r in policies["notifier"]["egress"] if {"port": 443, "protocol": "TCP"} in r["ports"]
    ]
    (hook,) = hooks
    assert "10.0.0.0/8" in hook["to"][0]["ipBlock"]["except"]


def web_labels(manifests: str) -> dict[str, str]:
    (web,) = [d for d in by_kind(manifests, "Deployment").values() if component(d) == "web"]
    return dict(web["spec"]["selector"]["matchLabels"])


@pytest.mark.parametrize("variant", ["default", "external"])
def test_credentials_come_from_the_secret_and_are_never_inlined(
    rendered: dict[str, str], variant: str
) -> None:
    manifests = rendered[variant]
    secret_env = {
        "HUB_AUTH_SECRET",
        "DATABASE_PASSWORD",
        "KAFKA_SASL_PASSWORD",
        "NOTIFIER_SMTP_PASSWORD",
    }
    referenced = set()
    for name, container in containers(manifests):
        for env in container["env"]:
            if env["name"] in secret_env:
                assert "value" not in env, (name, env)
                assert env["valueFrom"]["secretKeyRef"]["name"] == "referral-hub", (name, env)
                referenced.add(env["name"])
            if env["name"] == "DATABASE_URL":
                assert "$(DATABASE_PASSWORD)" in env["value"], name
    expected = secret_env if variant == "external" else {"HUB_AUTH_SECRET", "DATABASE_PASSWORD"}
    assert referenced == expected
    secrets = by_kind(manifests, "Secret")
    if variant == "default":
        # Nothing secret in values: the chart only names the operator's Secret.
        assert secrets == {}
    else:
        (secret,) = secrets.values()
        assert secret["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
        assert set(secret["data"]) == {
            "auth-secret",
            "database-password",
            "kafka-password-intake",
            "kafka-password-router",
            "kafka-password-notifier",
            "kafka-password-admin",
            "smtp-password",
        }
        # Given as values, they are in the Secret (base64) and nowhere else.
        body = manifests.replace(yaml_block(manifests, "Secret"), "")
        for value in SECRET_VALUES.values():
            assert value not in body


def yaml_block(manifests: str, kind: str) -> str:
    (block,) = [part for part in manifests.split("\n---") if f"\nkind: {kind}\n" in part]
    return block


def test_a_chart_made_secret_needs_every_value(tools: K8sTools) -> None:
    done = tools.helm(
        "template",
        "hub",
        str(CHART),
        "-f",
        str(EXTERNAL),
        "--set",
        "secrets.create=true",
        check=False,
    )
    assert done.returncode != 0
    assert "secrets.values.authSecret" in done.stderr


def test_the_migration_job_runs_first_as_the_kafka_admin(rendered: dict[str, str]) -> None:
    (job,) = by_kind(rendered["external"], "Job").values()
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    (container,) = job["spec"]["template"]["spec"]["containers"]
    command = " ".join(container["command"])
    assert "referral-hub db upgrade" in command and "referral-hub topics ensure" in command
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["KAFKA_SASL_USERNAME"] == "hub-admin"
    assert env["HUB_KAFKA_REPLICATION_FACTOR"] == "3"
    assert env["HUB_KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://otel-collector.observability:4318"


def test_the_web_app_offers_no_demo_logins(rendered: dict[str, str]) -> None:
    for name, container in containers(rendered["default"]):
        env = {e["name"]: e.get("value") for e in container["env"]}
        if container["name"] == "web":
            assert env["WEB_DEMO_LOGIN"] == "false"
            assert env["WEB_SECURE_COOKIES"] == "true"
            assert env["NOTIFIER_URL"] == "http://hub-referral-hub-notifier:8003"
        if container["name"] == "notifier":
            assert env["NOTIFIER_SMTP_HOST"], name


def test_consumers_scale_on_the_lag_of_the_groups_they_really_use(
    rendered: dict[str, str],
) -> None:
    """KEDA's Kafka scaler on each consumer's own groups and topics, as the code declares them
    (the services' brokers are built, never started); KEDA owns those Deployments' replicas."""
    from hub_intake.bootstrap import build_app as intake
    from hub_notifier.bootstrap import build_app as notifier
    from hub_router.bootstrap import build_app as router

    subscribed: dict[str, set[tuple[str, str]]] = {}
    for name, build in (("intake", intake), ("router", router), ("notifier", notifier)):
        broker = build().state.broker
        subscribed[name] = {
            (subscriber.group_id, topic)
            for subscriber in broker.subscribers
            for topic in subscriber.topic_names
        }
    manifests = rendered["external"]
    deployments = by_kind(manifests, "Deployment")
    scaled = by_kind(manifests, "ScaledObject")
    assert sorted(component(s) for s in scaled.values()) == sorted(CONSUMERS)
    for obj in scaled.values():
        target = obj["spec"]["scaleTargetRef"]["name"]
        assert "replicas" not in deployments[target]["spec"], target
        assert obj["spec"]["maxReplicaCount"] <= 6  # the topics' partitions
        groups = {group for group, _ in subscribed[component(obj)]}
        for trigger in obj["spec"]["triggers"]:
            meta = trigger["metadata"]
            assert trigger["type"] == "kafka"
            assert meta["consumerGroup"] in groups, meta
            if "topic" in meta:
                assert (meta["consumerGroup"], meta["topic"]) in subscribed[component(obj)]
            assert meta["sasl"] == "scram_sha512" and meta["tls"] == "enable"
            assert trigger["authenticationRef"]["name"] in by_kind(
                manifests, "TriggerAuthentication"
            )
    fixed = by_kind(rendered["default"], "Deployment")
    assert fixed["hub-referral-hub-web"]["spec"]["replicas"] == 2


def test_without_keda_every_service_runs_fixed_replicas(tools: K8sTools) -> None:
    manifests = tools.template("--set", "autoscaling.enabled=false")
    assert by_kind(manifests, "ScaledObject") == {}
    for deployment in by_kind(manifests, "Deployment").values():
        assert deployment["spec"]["replicas"] == 2


def settings_classes() -> dict[str, type[BaseSettings]]:
    """Each container's settings, by container name."""
    from hub_common.settings import InfraSettings
    from hub_intake.config import IntakeSettings
    from hub_notifier.config import NotifierSettings
    from hub_router.config import RouterSettings
    from hub_web.config import WebSettings

    return {
        "intake": IntakeSettings,
        "router": RouterSettings,
        "notifier": NotifierSettings,
        "web": WebSettings,
        "migrate": InfraSettings,
    }


def environment(container: dict[str, Any], region: dict[str, str] | None = None) -> dict[str, str]:
    """The container's environment as Kubernetes would give it: Secret keys resolved (to the
    test's values, by the key names values.yaml gives them), `$(NAME)` references expanded, and
    paths into the region's ConfigMap mount replaced by `region`'s copies of its files."""
    by_key = {
        "-".join(re.findall("[a-z]+|[A-Z][a-z]*", field)).lower(): value
        for field, value in SECRET_VALUES.items()
    }
    env: dict[str, str] = {}
    for entry in container["env"]:
        if "value" in entry:
            value = str(entry["value"])
            for name, known in env.items():
                value = value.replace(f"$({name})", known)
        else:
            value = by_key[entry["valueFrom"]["secretKeyRef"]["key"]]
        if value.startswith(REGION_MOUNT):
            assert region is not None, entry
            value = region[value.removeprefix(REGION_MOUNT)]
        env[entry["name"]] = value
    return env


@pytest.mark.parametrize("variant", ["default", "external"])
def test_every_variable_the_chart_sets_is_one_the_process_reads(
    rendered: dict[str, str], variant: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A misspelt variable would be ignored silently (the settings allow extras): each name the
    chart sets must be a setting of that process, and the values must parse, the region's
    files included (the services load and check them as they start)."""
    classes = settings_classes()
    region: dict[str, str] = {}
    for config_map in by_kind(rendered[variant], "ConfigMap").values():
        for file, text in config_map["data"].items():
            (tmp_path / file).write_text(text)
            region[file] = str(tmp_path / file)
    for name, container in containers(rendered[variant]):
        kind = container["name"]
        cls = classes[kind]
        known = {
            (field.alias or field_name).upper() for field_name, field in cls.model_fields.items()
        }
        env = environment(container, region)
        if variant == "external" and kind != "web":
            assert "HUB_SERVICE_AREA" in env, name
        # DATABASE_PASSWORD only feeds $(DATABASE_PASSWORD) in DATABASE_URL; OpenTelemetry's
        # SDK reads its own variables (hub_common.observability.tracing).
        unknown = {v for v in set(env) - known - {"DATABASE_PASSWORD"} if not v.startswith("OTEL_")}
        assert not unknown, (name, unknown)
        for variable in env:
            monkeypatch.setenv(variable, env[variable])
        settings = cls()
        for variable in env:
            monkeypatch.delenv(variable)
        values = settings.model_dump()  # every value parsed
        if kind != "web":
            assert SECRET_VALUES["databasePassword"] in values["database_url"], name
        assert values["auth_secret"] == SECRET_VALUES["authSecret"], name
        if kind != "migrate":
            assert values["http_host"] == "0.0.0.0", name
        if variant == "external" and kind != "web":
            assert (
                load_service_area(values["service_area"]).name == load_service_area(str(AREA)).name
            ), name
