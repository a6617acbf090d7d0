"""The operator's commands as a new operator meets them (issue 23): a roster checked as a
whole, credentials that refuse what cannot work, help that names columns, settings and
examples, and errors that name the component that failed."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hub_cli.main import main
from hub_router.adapters.roster_file import COLUMNS, RosterError, read_roster
from tests.support.fixtures import FIXTURES

ROOT = Path(__file__).resolve().parents[2]
HEADER = "worker_id,name,boroughs,postcode_districts,languages,max_caseload,working_days"


def roster(tmp_path: Path, *rows: str, header: str = HEADER, name: str = "roster.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join((header, *rows)) + "\n", encoding="utf-8")
    return path


def test_the_whole_roster_is_checked_and_every_bad_row_and_column_named(tmp_path: Path) -> None:
    path = roster(
        tmp_path,
        "lw-1,Ann,Croydonn,CR0,en,40,Mon",
        "lw-2,Bob,Sutton,ZZ9,en,40,Mon",
        "lw-1,Cat,Merton,SW19,en,-3,Funday",
        ",Dan,Merton,SW19 X,english,40,Mon",
        "lw-5,Eve,Merton,SW19,tw,12,Mon;Tue",
    )
    with pytest.raises(RosterError) as refused:
        read_roster(path)
    assert refused.value.file == str(path)
    assert refused.value.problems == [
        "row 2, column boroughs: unknown borough 'Croydonn' (did you mean Croydon?)",
        "row 3, column postcode_districts: 'ZZ9' is not a district the hub serves",
        "row 4, column working_days: unknown day 'Funday'; use Mon;Tue;Wed;Thu;Fri;Sat;Sun",
        "row 4, column max_caseload: expected a positive whole number, got '-3'",
        "row 4, column worker_id: 'lw-1' is already on row 2",
        "row 5, column worker_id: required",
        "row 5, column postcode_districts: 'SW19 X' is not a postcode district (CR0)",
        "row 5, column languages: 'english' is not a BCP 47 language code (en, tw)",
    ]
    assert str(path) in str(refused.value) and "8 problems, nothing published" in str(refused.value)


def test_a_roster_without_the_required_columns_is_refused_naming_them(tmp_path: Path) -> None:
    path = roster(tmp_path, "lw-1,Ann", header="worker_id,name")
    with pytest.raises(
        RosterError, match=r"missing required column\(s\) boroughs, postcode_districts"
    ):
        read_roster(path)
    typo = roster(
        tmp_path,
        "lw-1,Ann,Croydon,CR0,x",
        header="worker_id,name,boroughs,postcode_districts,langauges",
    )
    with pytest.raises(RosterError, match=r"unknown column 'langauges' \(did you mean languages"):
        read_roster(typo)


def test_a_json_roster_is_checked_the_same_way(tmp_path: Path) -> None:
    path = tmp_path / "roster.json"
    path.write_text(
        '[{"worker_id": "lw-1", "name": "Ann", "boroughs": "Sutton", '
        '"postcode_districts": "SM1", "risk_cleared": "maybe"}]'
    )
    with pytest.raises(RosterError, match="row 1, column risk_cleared: expected Y or N"):
        read_roster(path)


def test_good_rosters_still_load(tmp_path: Path) -> None:
    assert len(read_roster(FIXTURES / "roster-small.csv")) == 3
    assert len(read_roster(ROOT / "deploy" / "demo" / "linkworkers.csv")) > 10


def test_workers_load_reports_every_problem_with_the_file_name_and_publishes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = roster(tmp_path, "lw-1,Ann,Croydonn,ZZ9,en,40,Mon", "lw-1,Bob,Sutton,SM1,en,40,Mon")
    # Kafka is never reached: the file is refused first (a closed port would say otherwise).
    env = {"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{closed_port()}"}
    os.environ.update(env)
    try:
        assert main(["workers", "load", str(path)]) == 1
    finally:
        os.environ.pop("KAFKA_BOOTSTRAP_SERVERS")
    err = capsys.readouterr().err
    assert f"{path}: 3 problems, nothing published" in err
    assert "row 2, column boroughs" in err and "row 2, column postcode_districts" in err
    assert "row 3, column worker_id: 'lw-1' is already on row 2" in err


def test_workers_load_check_reports_a_good_file_without_publishing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["workers", "load", "--check", str(FIXTURES / "roster-small.csv")]) == 0
    assert "3 link workers, no problems (nothing published)" in capsys.readouterr().out


ISSUE = ["credentials", "issue", "--subject", "s1"]


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["--role", "operator", "--ttl-days", "-5"], "--ttl-days -5: a credential lasts 1 to 366"),
        (["--role", "operator", "--ttl-days", "5000"], "a credential lasts 1 to 366 days"),
        (["--role", "agency", "--organisation", "nopipe"], "expected SYSTEM|VALUE"),
        (["--role", "agency", "--organisation", "sys|"], "expected SYSTEM|VALUE"),
        (["--role", "link_worker", "--borough", "Croydonn"], "--borough is for coordinator"),
        (["--role", "coordinator", "--borough", "Croydonn"], "unknown borough 'Croydonn'"),
        (
            ["--role", "link_worker", "--organisation", "a|b"],
            "for agency and organisation credentials only",
        ),
    ],
)
def test_credentials_refuse_what_would_sign_a_useless_or_endless_token(
    argv: list[str], says: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([*ISSUE, *argv]) == 1
    out, err = capsys.readouterr()
    assert out == "" and says in err


def test_credentials_warn_when_signed_with_the_development_secret(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_AUTH_SECRET", raising=False)
    assert main([*ISSUE, "--role", "operator"]) == 0
    out, err = capsys.readouterr()
    assert out.strip() and "HUB_AUTH_SECRET is the development default" in err
    monkeypatch.setenv("HUB_AUTH_SECRET", "a-long-random-production-value-" + "x" * 20)
    assert main([*ISSUE, "--role", "operator"]) == 0
    assert "warning" not in capsys.readouterr().err


def help_of(*argv: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "hub_cli.main", *argv, "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    )
    return done.stdout


def test_help_names_the_columns_the_environment_and_examples() -> None:
    load = help_of("workers", "load")
    assert all(column in load for column in COLUMNS)
    assert "KAFKA_BOOTSTRAP_SERVERS" in load and "example" in load and "--check" in load
    issue = help_of("credentials", "issue")
    assert "HUB_AUTH_SECRET" in issue and "examples:" in issue
    assert "--borough Croydon --borough Merton" in issue
    top = help_of()
    assert "DATABASE_URL" in top and "KAFKA_BOOTSTRAP_SERVERS" in top


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_database_that_refuses_is_named_not_an_errno() -> None:
    port = closed_port()
    env = {**os.environ, "DATABASE_URL": f"postgresql+asyncpg://hub:secret@127.0.0.1:{port}/hub"}
    done = subprocess.run(
        [sys.executable, "-m", "hub_cli.main", "db", "upgrade"],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 1
    assert f"PostgreSQL at DATABASE_URL (127.0.0.1:{port}/hub) refused the connection" in (
        done.stderr
    )
    assert "Errno" not in done.stderr and "secret" not in done.stderr
    assert "Traceback" not in done.stderr
