"""helm and kubeconform (tools/k8s/install.sh: Go module proxy, pinned) for the chart's tests.

The first run installs them and the Kubernetes/KEDA JSON schemas under .local/k8s (a couple of
minutes, mostly compiling helm); later runs find them there in a fraction of a second.
"""

from __future__ import annotations

import functools
import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
INSTALL_SCRIPT = REPO / "tools" / "k8s" / "install.sh"
CHART = REPO / "deploy" / "helm" / "referral-hub"


class ToolFailed(RuntimeError):
    """helm or kubeconform could not be installed, or did not do what was asked."""


@dataclass(frozen=True)
class K8sTools:
    home: Path

    @property
    def schema_location(self) -> str:
        return str(self.home / "schemas" / "{{ .ResourceKind }}{{ .KindSuffix }}.json")

    def helm(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.home / "bin" / "helm"), *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and done.returncode != 0:
            raise ToolFailed(f"helm {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
        return done

    def template(self, *args: str) -> str:
        """The chart rendered as `helm template hub` with these extra arguments."""
        return self.helm("template", "hub", str(CHART), *args).stdout

    def kubeconform(self, manifests: str) -> dict[str, Any]:
        """kubeconform -strict's JSON report on `manifests`; every resource must have a schema."""
        done = subprocess.run(
            [
                str(self.home / "bin" / "kubeconform"),
                "-strict",
                "-summary",
                "-output",
                "json",
                "-schema-location",
                self.schema_location,
                "-",
            ],
            input=manifests,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        try:
            report: dict[str, Any] = json.loads(done.stdout)
        except json.JSONDecodeError as error:
            raise ToolFailed(
                f"kubeconform answered no report:\n{done.stdout}\n{done.stderr}"
            ) from error
        return report


def install() -> K8sTools:
    """The installed tools, installed now if missing or their pins changed."""
    done = subprocess.run(
        ["bash", str(INSTALL_SCRIPT)], capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        raise ToolFailed(f"installing helm and kubeconform failed:\n{done.stderr[-3000:]}")
    return K8sTools(Path(done.stdout.strip().splitlines()[-1]))


@functools.cache
def documents(manifests: str) -> list[dict[str, Any]]:
    """The Kubernetes objects in a multi-document YAML stream (parsed once per stream: treat
    them as read-only)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return [doc for doc in yaml.load_all(manifests, Loader=loader) if doc]
