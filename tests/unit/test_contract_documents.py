"""The committed contract documents under schemas/ must be what the code generates today."""

import json
from pathlib import Path

import pytest

from hub_cli.main import contract_documents

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"
GENERATED = contract_documents()


@pytest.mark.parametrize("relative", sorted(GENERATED))
def test_committed_document_matches_the_code(relative: str) -> None:
    committed = SCHEMAS / relative
    assert committed.exists(), f"schemas/{relative} is missing: run `make schemas`"
    generated = GENERATED[relative]
    if isinstance(generated, str):  # a text document (a CSV example): compared as written
        same = committed.read_text(encoding="utf-8") == generated
    else:
        same = json.loads(committed.read_text()) == json.loads(json.dumps(generated))
    assert same, (
        f"schemas/{relative} has drifted from the code: run `make schemas` and commit the result"
    )


def test_every_hub_topic_appears_in_some_asyncapi_document() -> None:
    from hub_common.messaging.topics import Topics

    addresses = {
        channel["address"]
        for relative, document in GENERATED.items()
        if relative.startswith("asyncapi/")
        for channel in document["channels"].values()
    }
    documented_now = {
        "referrals.inbound.community",
        "referrals.requested",
        "referrals.rejected",
        "referrals.tasks",
        "linkworkers.directory",
        "directory.services",
    }
    assert documented_now <= addresses
    # The agencies' status topics are one address with its parameters, made on demand.
    status = Topics().agency_status_address
    assert status in addresses
    assert addresses - {status} <= set(Topics().all())
