"""The region the hub serves: its area, its postcode districts, its directory of services."""
