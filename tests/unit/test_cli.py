"""`referral-hub` as an operator meets it: refusals that say what to do, help that explains, and
no noise from clients left open when Kafka is down."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hub_cli.main import main
from hub_common.auth import verify_token
from hub_common.service_area import boroughs
from hub_common.settings import InfraSettings
from tests.support.fixtures import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_coordinator_credential_without_a_borough_is_refused_saying_how_to_scope_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["credentials", "issue", "--role", "coordinator", "--subject", "c1"]) == 1
    out, err = capsys.readouterr()
    assert out == ""  # no token printed
    assert "a coordinator credential needs the boroughs it covers" in err
    assert "--borough Croydon --borough 'Kingston upon Thames'" in err
    assert all(borough in err for borough in boroughs())


def test_a_coordinator_credential_with_an_unknown_borough_is_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    argv = ["credentials", "issue", "--role", "coordinator", "--subject", "c1"]
    assert main([*argv, "--borough", "Sutton", "--borough", "Suton"]) == 1
    assert "unknown borough 'Suton'" in capsys.readouterr().err


def test_a_scoped_coordinator_credential_is_issued(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["credentials", "issue", "--role", "coordinator", "--subject", "c1"]
    assert main([*argv, "--borough", "Sutton", "--borough", "Kingston upon Thames"]) == 0
    token = capsys.readouterr().out.strip()
    principal = verify_token(InfraSettings().auth_secret, token)
    assert principal.boroughs == ("Sutton", "Kingston upon Thames")


def test_sending_with_kafka_down_says_so_and_leaves_no_client_open() -> None:
    port = closed_port()
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}", "PYTHONWARNINGS": ""}
    env.pop("KAFKA_SECURITY_PROTOCOL", None)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "hub_cli.main",
            "referrals",
            "send",
            "community",
            str(FIXTURES / "inbound" / "community-referral.json"),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1
    assert done.stdout == ""
    assert (
        f"referral-hub: Kafka at 127.0.0.1:{port} did not answer: is it running, "
        "and is KAFKA_BOOTSTRAP_SERVERS right?"
    ) in done.stderr
    assert "Unclosed" not in done.stderr, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_replay_rejected_help_says_what_it_does_without_source_and_how_it_reports(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["referrals", "replay-rejected", "--help"])
    assert exit_.value.code == 0
    help_text = " ".join(capsys.readouterr().out.split())
    assert "Without --source, the rejections of every format are replayed" in help_text
    assert "nothing is printed while it works" in help_text
    assert "one line gives the counts (tried, accepted, still rejected)" in help_text
    assert "(default: every format's)" in help_text
