"""What the pages show, computed from FHIR resources: pure Python, no I/O."""
