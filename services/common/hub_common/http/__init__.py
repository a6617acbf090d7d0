"""Serving HTTP: the service app, health, body limits and FHIR's HTTP rules."""
