"""Intake: each agency's referral in, one canonical FHIR R4 ServiceRequest out."""
