"""The single statement a batch writes its new rows with (hub_common.storage.batch_insert)."""

from __future__ import annotations

import datetime

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from hub_common.storage.batch_insert import BatchTable, statement
from hub_common.storage.db import outbox_table
from hub_notifier.adapters.notifications import DELIVERY_ROW, NEW_DELIVERIES

metadata = MetaData(schema="somewhere")
rows_table = Table(
    "rows",
    metadata,
    Column("row_id", String(64), primary_key=True),
    Column("body", JSONB),
    Column("count", Integer),
    Column("at", DateTime(timezone=True)),
)
ROWS = BatchTable(rows_table, ("row_id", "body", "count", "at"), "ON CONFLICT DO NOTHING")
OUTBOX = BatchTable(outbox_table(metadata), ("topic", "key", "value", "headers"))


def test_every_table_is_one_insert_from_arrays_in_one_statement() -> None:
    text = statement((ROWS, OUTBOX))
    assert text.count("INSERT INTO") == 2
    # The rows first, the outbox last, each from one array per column, numbered in turn.
    assert text.index("INSERT INTO somewhere.rows") < text.index("INSERT INTO somewhere.outbox")
    for number in range(1, 9):
        assert f"${number}::" in text
    assert "$9" not in text
    # JSONB travels as text and is cast; the other types keep their own.
    assert "$2::TEXT[]" in text and "u.body::JSONB" in text
    assert "$3::INTEGER[]" in text and "$4::TIMESTAMP WITH TIME ZONE[]" in text
    assert "ON CONFLICT DO NOTHING RETURNING 1" in text
    # In the caller's order, and how many rows each insert wrote.
    assert text.count("ORDER BY u.batch_position") == 2
    assert text.endswith("SELECT (SELECT count(*) FROM w0), (SELECT count(*) FROM w1)")


def test_rows_become_one_list_per_column_with_json_as_text() -> None:
    at = datetime.datetime(2026, 12, 3, tzinfo=datetime.UTC)
    arrays = ROWS.arrays(
        [
            {"row_id": "a", "body": {"x": [1]}, "count": 1, "at": at},
            {"row_id": "b", "body": None, "count": None, "at": None},
        ]
    )
    assert arrays == [["a", "b"], ['{"x":[1]}', None], [1, None], [at, None]]
    assert OUTBOX.arrays([{"topic": "t", "key": "k", "value": b"v", "headers": b"{}"}]) == [
        ["t"],
        ["k"],
        [b"v"],
        ["{}"],
    ]


def test_an_array_column_travels_as_json_text_and_is_rebuilt() -> None:
    names = Table("names", metadata, Column("given", ARRAY(String(200))))
    table = BatchTable(names, ("given",))
    text = statement((table,))
    assert "$1::TEXT[]" in text
    assert "ARRAY(SELECT jsonb_array_elements_text(u.given::JSONB))::VARCHAR(200)[]" in text
    assert table.arrays([{"given": ["Ann", "Marie"]}, {"given": []}]) == [['["Ann","Marie"]', "[]"]]


def test_every_column_of_a_delivery_row_has_a_value_or_a_default() -> None:
    """A handshake, a heartbeat, an e-mail and an event notification share one INSERT: each
    column the statement writes must come from the row or DELIVERY_ROW (a handshake has no
    referral, and its subscription could not be created while that one was missing)."""
    handshake = {
        "delivery_id": "d-1",
        "subscription_id": "s-1",
        "kind": "handshake",
        "channel": "rest-hook",
        "body": b"{}",
        "status": "pending",
    }
    arrays = NEW_DELIVERIES.arrays([{**DELIVERY_ROW, **handshake}])
    assert len(arrays) == len(NEW_DELIVERIES.columns)
    assert arrays[NEW_DELIVERIES.columns.index("referral_id")] == [None]


def test_a_row_may_leave_a_column_out_but_never_name_one_not_written() -> None:
    assert ROWS.arrays([{"row_id": "a"}]) == [["a"], [None], [None], [None]]
    with pytest.raises(ValueError, match="updated_at"):
        ROWS.arrays([{"row_id": "a", "updated_at": None}])
