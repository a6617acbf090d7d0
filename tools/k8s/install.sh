#!/usr/bin/env bash
# Installs what `make test` needs to check the Helm chart (deploy/helm/referral-hub) into
# <repo>/.local/k8s and prints that folder:
#   bin/helm, bin/kubeconform   built by `go install` from the Go module proxy, pinned below
#   schemas/                    one strict JSON schema per Kubernetes and KEDA kind, made by
#                               json_schemas.py from the OpenAPI document in the k8s.io/kubernetes
#                               module and the CRDs in the KEDA module (kubeconform's own
#                               schema location is on GitHub, which CI cannot reach)
# A later call with the same pins does nothing but a checksum. The first takes a few minutes
# (compiling helm: 2m20s of CPU; 13 minutes on two cores busy with other builds).
#
#   dir=$(tools/k8s/install.sh)
#   "$dir/bin/helm" template hub deploy/helm/referral-hub | "$dir/bin/kubeconform" -strict \
#       -schema-location "$dir/schemas/{{ .ResourceKind }}{{ .KindSuffix }}.json" -
set -euo pipefail

HELM_VERSION=v4.3.2
KUBECONFORM_VERSION=v0.8.0
# The Kubernetes release whose API the chart is checked against, and KEDA's.
KUBERNETES_VERSION=v1.34.4
KEDA_VERSION=v2.21.0

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${HUB_K8S_TOOLS_DIR:-$repo/.local/k8s}
python=${PYTHON:-$repo/.venv/bin/python}

die() { printf '[k8s-tools] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$out"
# Two test runs starting at once must not install into the same folder together.
exec 9>"$out/.lock"
flock 9

# Two stamps: the tools change only with their pins, the schemas also with the converter.
tools_want="helm $HELM_VERSION kubeconform $KUBECONFORM_VERSION"
schemas_want=$( (echo "kubernetes $KUBERNETES_VERSION keda $KEDA_VERSION"; cat "$here/json_schemas.py") | sha256sum | cut -d' ' -f1)
tools_stamp=$out/.tools
schemas_stamp=$out/.schemas
tools_ok() { [ -f "$tools_stamp" ] && [ "$(cat "$tools_stamp")" = "$tools_want" ] && [ -x "$out/bin/helm" ] && [ -x "$out/bin/kubeconform" ]; }
schemas_ok() { [ -f "$schemas_stamp" ] && [ "$(cat "$schemas_stamp")" = "$schemas_want" ] && [ -d "$out/schemas" ]; }
if tools_ok && schemas_ok; then
  echo "$out"
  exit 0
fi

# Go from Debian or go.dev; where it is older than helm needs, Go fetches the newer toolchain
# from the module proxy itself (GOTOOLCHAIN=auto, its default).
command -v go >/dev/null || PATH=$PATH:/usr/local/go/bin
command -v go >/dev/null || die "Go is needed to install helm and kubeconform from the Go module proxy (Debian: apt-get install golang-go)"
[ -x "$python" ] || die "no Python at $python: run make install first"
log=$out/install.log
: >"$log"

if ! tools_ok; then
  rm -rf "$out/bin" "$tools_stamp"
  printf '[k8s-tools] installing helm %s and kubeconform %s from the Go module proxy (first run only)\n' \
    "$HELM_VERSION" "$KUBECONFORM_VERSION" >&2
  GOBIN=$out/bin go install "helm.sh/helm/v4/cmd/helm@$HELM_VERSION" >>"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "go install helm $HELM_VERSION failed (log: $log)"; }
  GOBIN=$out/bin go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" >>"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "go install kubeconform $KUBECONFORM_VERSION failed (log: $log)"; }
  echo "$tools_want" >"$tools_stamp"
fi

module_dir() {
  go mod download -json "$1@$2" 2>>"$log" | "$python" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])' ||
    { tail -n 20 "$log" >&2; die "go mod download $1@$2 failed (log: $log)"; }
}
if ! schemas_ok; then
  rm -rf "$out/schemas" "$schemas_stamp"
  kubernetes=$(module_dir k8s.io/kubernetes "$KUBERNETES_VERSION")
  keda=$(module_dir github.com/kedacore/keda/v2 "$KEDA_VERSION")
  "$python" "$here/json_schemas.py" --kubernetes "$kubernetes" --keda "$keda" "$out/schemas" >>"$log" 2>&1 ||
    { tail -n 20 "$log" >&2; die "could not make the JSON schemas (log: $log)"; }
  echo "$schemas_want" >"$schemas_stamp"
fi
echo "$out"
