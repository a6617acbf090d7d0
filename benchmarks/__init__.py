"""`make bench`: the hub end to end on real Kafka and PostgreSQL, against a raw Kafka relay.

Run from the repository root (`python -m benchmarks.run --help`): it reuses the test support
code (tests/support) to find the infrastructure and to run the services as processes.
"""
