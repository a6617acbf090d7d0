"""HAPI FHIR's validator (tools/fhir-validator) as one long-lived process that tests talk to.

Starting the JVM and loading the R4 definitions takes seconds, so a test run starts it once and
sends every resource down the same pipe: one JSON request line in, one JSON answer line out.
The first run builds the validator with Maven (cached under .local/fhir-validator).
"""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]
TOOL = REPO / "tools" / "fhir-validator"
BUILD_SCRIPT = TOOL / "build.sh"
HUB_DEFINITIONS = REPO / "schemas" / "fhir"
MAIN_CLASS = "org.referralhub.fhirvalidator.Main"
START_TIMEOUT_S = 180.0
ANSWER_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class ValidationIssue:
    """One message of the validator: `location` is a FHIRPath into the resource."""

    severity: str  # fatal | error | warning | information
    location: str
    message: str
    message_id: str | None

    @property
    def is_error(self) -> bool:
        return self.severity in ("fatal", "error")

    def __str__(self) -> str:
        return f"{self.severity} at {self.location}: {self.message}"


class ValidatorFailed(RuntimeError):
    """The validator could not be built, did not start, or stopped answering."""


def build() -> Path:
    """The folder holding fhir-validator.jar and lib/, built now if the source changed."""
    done = subprocess.run(
        ["bash", str(BUILD_SCRIPT)], capture_output=True, text=True, timeout=1800, check=False
    )
    if done.returncode != 0:
        raise ValidatorFailed(f"building the FHIR validator failed:\n{done.stderr[-3000:]}")
    return Path(done.stdout.strip().splitlines()[-1])


class FhirValidator:
    """A running validator. `validate` is safe to call many times; not thread-safe."""

    def __init__(self, process: subprocess.Popen[str], definitions: int) -> None:
        self._process = process
        self.definitions = definitions

    def validate(
        self, resource: dict[str, Any], profiles: Iterable[str] = ()
    ) -> list[ValidationIssue]:
        """Every issue the validator finds in `resource` (against `profiles` too, if named)."""
        request = {"resource": resource, "profiles": list(profiles)}
        stdin, stdout = self._pipes()
        stdin.write(json.dumps(request, separators=(",", ":")) + "\n")
        stdin.flush()
        answer = json.loads(_read_line(stdout, ANSWER_TIMEOUT_S, self._process))
        if "failure" in answer:
            raise ValidatorFailed(f"the validator could not read the request: {answer['failure']}")
        return [
            ValidationIssue(
                severity=issue["severity"],
                location=issue.get("location") or "",
                message=issue.get("message") or "",
                message_id=issue.get("messageId"),
            )
            for issue in answer["issues"]
        ]

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        stdin, stdout = self._process.stdin, self._process.stdout
        if stdin is None or stdout is None or self._process.poll() is not None:
            raise ValidatorFailed("the validator process has stopped")
        return stdin, stdout


def _read_line(stream: IO[str], timeout: float, process: subprocess.Popen[str]) -> str:
    """One line from the validator, or ValidatorFailed if none comes in time."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    if reader.is_alive() or not lines or not lines[0]:
        code = process.poll()
        raise ValidatorFailed(
            f"no answer from the validator within {timeout:.0f} s (exit code {code})"
        )
    return lines[0]


@contextmanager
def running_validator(
    definitions: Iterable[Path] = (HUB_DEFINITIONS,),
    packages: Iterable[Path] = (),
    *,
    unknown_profiles: str = "error",
) -> Iterator[FhirValidator]:
    """Build (if needed) and start the validator with base R4 plus `definitions` folders and
    NPM `packages` (e.g. UK Core); stop it afterwards. `unknown_profiles="warning"` lets a
    meta.profile whose package is not loaded pass with a warning."""
    home = build()
    command = ["java", *(TOOL / "jvm.options").read_text().split()]
    if (home / "classes.jsa").exists():
        command.append(f"-XX:SharedArchiveFile={home / 'classes.jsa'}")
    command += ["-cp", f"{home / 'fhir-validator.jar'}:{home / 'lib'}/*", MAIN_CLASS]
    command += ["--unknown-profiles", unknown_profiles]
    for folder in definitions:
        command += ["--definitions", str(folder)]
    for package in packages:
        command += ["--package", str(package)]
    log = open(home / "validator.log", "w")  # noqa: SIM115 - closed below, after the process
    process = subprocess.Popen(
        command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
    )
    try:
        assert process.stdout is not None
        ready = json.loads(_read_line(process.stdout, START_TIMEOUT_S, process))
        if not ready.get("ready"):
            raise ValidatorFailed(f"unexpected first line from the validator: {ready}")
        yield FhirValidator(process, int(ready["definitions"]))
    finally:
        if process.stdin:
            process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
