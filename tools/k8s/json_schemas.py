"""Kubernetes and KEDA JSON schemas in kubeconform's layout, made from registry packages.

kubeconform looks its schemas up on GitHub by default, which a machine that reaches only the
package registries cannot do. The same facts ship in Go modules: k8s.io/kubernetes carries the
API server's OpenAPI document (api/openapi-spec/swagger.json) and github.com/kedacore/keda/v2
its CustomResourceDefinitions (config/crd/bases). This turns both into one standalone, strict
JSON schema per kind, named as kubeconform's `{{ .ResourceKind }}{{ .KindSuffix }}.json`
template expects (deployment-apps-v1.json, scaledobject-keda-v1alpha1.json).

Strict means every object that lists its properties refuses others (kubeconform's -strict reads
strict schemas; without them a misspelt field would pass).

    python tools/k8s/json_schemas.py --kubernetes <k8s module dir> --keda <keda module dir> OUT
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"


def kind_suffix(group: str, version: str) -> str:
    """kubeconform's KindSuffix: the group's first label (none for the core group), then the
    version: "apps", "v1" -> "-apps-v1"; "", "v1" -> "-v1"."""
    first = group.split(".")[0].lower() if group else ""
    return f"-{first}-{version.lower()}" if first else f"-{version.lower()}"


def strict(node: Any) -> Any:
    """The schema with `additionalProperties: false` on every object that lists properties,
    unless it says it keeps unknown fields."""
    if isinstance(node, list):
        return [strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict(value) for key, value in node.items()}
    if (
        "properties" in out
        and "additionalProperties" not in out
        and not out.get("x-kubernetes-preserve-unknown-fields")
    ):
        out["additionalProperties"] = False
    return out


def referenced(definitions: dict[str, Any], root: Any) -> set[str]:
    """The names of every definition `root` reaches through `$ref`s."""
    seen: set[str] = set()
    todo = [root]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/definitions/"):
                name = ref.removeprefix("#/definitions/")
                if name not in seen:
                    seen.add(name)
                    todo.append(definitions[name])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    return seen


def kubernetes_schemas(swagger: Path) -> dict[str, dict[str, Any]]:
    """File name -> schema for every kind the API server's OpenAPI document names."""
    definitions: dict[str, Any] = json.loads(swagger.read_text())["definitions"]
    # YAML writes both as numbers or strings; the OpenAPI document says only "string".
    definitions[INT_OR_STRING] = {"oneOf": [{"type": "string"}, {"type": "integer"}]}
    definitions[QUANTITY] = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    definitions = {name: strict(schema) for name, schema in definitions.items()}
    out: dict[str, dict[str, Any]] = {}
    for schema in definitions.values():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            file = f"{gvk['kind'].lower()}{kind_suffix(gvk['group'], gvk['version'])}.json"
            if file in out:
                continue
            needed = referenced(definitions, schema)
            out[file] = {
                "$schema": "http://json-schema.org/draft-07/schema#",
                **schema,
                "definitions": {ref: definitions[ref] for ref in sorted(needed)},
            }
    return out


def crd_schemas(folder: Path) -> dict[str, dict[str, Any]]:
    """File name -> schema for every version of every CustomResourceDefinition in `folder`."""
    out: dict[str, dict[str, Any]] = {}
    for path in sorted(folder.glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        spec = crd["spec"]
        for version in spec["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            file = f"{spec['names']['kind'].lower()}{kind_suffix(spec['group'], version['name'])}"
            out[f"{file}.json"] = {"$schema": "http://json-schema.org/draft-07/schema#", **schema}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubernetes", type=Path, required=True, help="k8s.io/kubernetes dir")
    parser.add_argument("--keda", type=Path, required=True, help="kedacore/keda/v2 module dir")
    parser.add_argument("out", type=Path)
    args = parser.parse_args()
    schemas = kubernetes_schemas(args.kubernetes / "api" / "openapi-spec" / "swagger.json")
    schemas |= crd_schemas(args.keda / "config" / "crd" / "bases")
    args.out.mkdir(parents=True, exist_ok=True)
    for file, schema in schemas.items():
        (args.out / file).write_text(json.dumps(schema, separators=(",", ":")))
    print(f"{len(schemas)} schemas in {args.out}")


if __name__ == "__main__":
    main()
