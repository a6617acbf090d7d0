"""`referral-hub` as an operator meets it: refusals that say what to do, help that explains, and
no noise from clients left open when Kafka is down."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import click
import pytest

from hub_cli.main import cli, main
from hub_cli.progress import progress_bar
from hub_common.region.service_area import boroughs
from hub_common.security.auth import verify_token
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
    assert "a bar of rejections replayed on a terminal (none with --quiet" in help_text
    assert "one line gives the counts (tried, accepted, still rejected)" in help_text
    assert "(default: every format's)" in help_text


def every_command(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            found += every_command(command, (*path, name))
        else:
            found.append((*path, name))
    return found


@pytest.mark.parametrize("command", every_command(cli), ids=" ".join)
def test_every_command_answers_help_with_examples(
    command: tuple[str, ...], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    help_text = capsys.readouterr().out
    examples = help_text.split("examples:\n", 1)[1]
    assert f"referral-hub {' '.join(command)}" in examples, help_text


def test_a_usage_error_exits_2_naming_the_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["referrals", "replay-rejected", "--source", "carrier-pigeon"])
    assert exit_.value.code == 2
    assert "Invalid value for '--source': 'carrier-pigeon' is not one of" in capsys.readouterr().err


def test_progress_is_drawn_on_a_terminal_only_and_never_when_quiet(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("TTY_COMPATIBLE", raising=False)
    assert progress_bar().disable  # pytest captures standard error: not a terminal
    monkeypatch.setenv("FORCE_COLOR", "1")  # as a terminal would be
    assert not progress_bar().disable
    assert progress_bar(quiet=True).disable


def test_service_area_check_names_every_problem_and_shows_a_good_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    region = FIXTURES / "service-area-manchester.json"
    assert main(["service-area", "check", str(region)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Greater Manchester (test region) (")
    assert "4 local authorities, 14 postcode districts, no problems" in out
    assert "  E08000006  Salford: M5 M6 M7" in out
    bad = tmp_path / "area.json"
    bad.write_text(region.read_text().replace('"M5"', '"m5"').replace("E08000009", "Trafford"))
    assert main(["service-area", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"referral-hub: service area {bad} (HUB_SERVICE_AREA): 2 problems:" in err
    assert "local_authorities[1].districts[0]: 'm5' is not a postcode district" in err
    assert "local_authorities[2].code: 'Trafford' is not a GSS code" in err


def test_a_command_with_an_unusable_service_area_says_so_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_SERVICE_AREA", str(tmp_path / "nowhere.json"))
    assert main(["credentials", "issue", "--role", "operator", "--subject", "ops"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and "nowhere.json (HUB_SERVICE_AREA): cannot be read" in err
    assert "Traceback" not in err


def test_the_region_decides_which_boroughs_a_coordinator_may_be_given(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_SERVICE_AREA", str(FIXTURES / "service-area-manchester.json"))
    monkeypatch.setenv("HUB_AUTH_SECRET", "a-long-random-production-value-" + "x" * 20)
    argv = ["credentials", "issue", "--role", "coordinator", "--subject", "c1"]
    assert main([*argv, "--borough", "Croydon"]) == 1
    assert "the hub's boroughs are Manchester, Salford, Trafford, Stockport" in (
        capsys.readouterr().err
    )
    assert main([*argv, "--borough", "Salford"]) == 0
