import base64

from hub_common.jsonio import dumps, loads
from hub_intake.service_layer.intake_events import raw_original, storable


def test_clean_documents_are_kept_as_they_are() -> None:
    document = {"form_id": "A-1", "person": {"given_name": "Zoë"}}
    assert storable(document) is document


def test_documents_with_nul_characters_are_kept_whole_as_base64() -> None:
    document = {"form_id": "A-1\u0000"}
    kept = storable(document)
    assert "\u0000" not in dumps(kept).decode()
    assert loads(base64.b64decode(kept["base64"])) == document


def test_unreadable_bodies_are_kept_exactly() -> None:
    assert raw_original(b"{not json") == "{not json"
    binary = bytes(range(256))
    assert base64.b64decode(raw_original(binary)["base64"]) == binary
    assert base64.b64decode(raw_original(b"a\x00b")["base64"]) == b"a\x00b"
