"""The hub's FHIR vocabulary: identifier systems, codes, statuses, outputs, search and OperationOutcome."""
