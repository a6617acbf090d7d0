"""Kafka: topic names, clients, the envelope, the messages' types (`messages`), consuming them
(`consuming`, the one way to subscribe; `failures`, how failures are retried or set aside;
`inbox`, `batch`) and publishing (`outbox`)."""
