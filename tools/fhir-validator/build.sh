#!/usr/bin/env bash
# Builds the hub's FHIR validator once (Maven: HAPI FHIR from Maven Central) into
# <repo>/.local/fhir-validator and prints that folder. A later call rebuilds only when the pom or
# the source changed, so it costs a checksum. The test fixture calls this; so can anyone:
#
#   dir=$(tools/fhir-validator/build.sh)
#   java $(cat tools/fhir-validator/jvm.options) -XX:SharedArchiveFile="$dir/classes.jsa" \
#        -cp "$dir/fhir-validator.jar:$dir/lib/*" org.referralhub.fhirvalidator.Main \
#        --definitions schemas/fhir < requests.ndjson
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${HUB_FHIR_VALIDATOR_DIR:-$repo/.local/fhir-validator}

die() { printf '[fhir-validator] error: %s\n' "$*" >&2; exit 1; }

mkdir -p "$out"
# Two test runs starting at once must not build into the same folder together.
exec 9>"$out/.lock"
flock 9

want=$(cd "$here" && find pom.xml jvm.options src -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -d' ' -f1)
stamp=$out/.source.sha256
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -f "$out/fhir-validator.jar" ]; then
  echo "$out"
  exit 0
fi

command -v java >/dev/null || die "Java 17+ is needed: install a JDK (Debian: apt-get install openjdk-17-jdk-headless)"
command -v javac >/dev/null || die "javac is needed to build the validator: install a JDK, not only a JRE"
command -v mvn >/dev/null || die "Maven is needed to build the validator (Debian: apt-get install maven)"
printf '[fhir-validator] building with Maven (HAPI FHIR from Maven Central; first run only)\n' >&2
rm -rf "$out/lib" "$out/build" "$out/fhir-validator.jar" "$out/classes.jsa" "$stamp"
mvn -q -B -f "$here/pom.xml" -Dvalidator.build="$out/build" \
    package dependency:copy-dependencies -DoutputDirectory="$out/lib" >"$out/mvn.log" 2>&1 ||
  { tail -n 30 "$out/mvn.log" >&2; die "Maven could not build the validator (log: $out/mvn.log)"; }
cp "$out/build/fhir-validator.jar" "$out/fhir-validator.jar"
# A class-data-sharing archive of one warm-up run: later starts load HAPI's classes from it,
# which takes several seconds off every test run. Optional: without it Java loads them anew.
printf '{"resource":{"resourceType":"OperationOutcome","issue":[{"severity":"information","code":"informational"}]}}\n' |
  java $(cat "$here/jvm.options") -XX:ArchiveClassesAtExit="$out/classes.jsa" \
    -cp "$out/fhir-validator.jar:$out/lib/*" org.referralhub.fhirvalidator.Main \
    --definitions "$repo/schemas/fhir" >/dev/null 2>"$out/warm-up.log" ||
  { rm -f "$out/classes.jsa"; printf '[fhir-validator] no class archive (see %s)\n' "$out/warm-up.log" >&2; }
echo "$want" >"$stamp"
echo "$out"
