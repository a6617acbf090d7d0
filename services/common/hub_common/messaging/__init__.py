"""Kafka: topics, clients, the envelope, consuming safely (inbox, batches, offsets) and publishing (outbox)."""
