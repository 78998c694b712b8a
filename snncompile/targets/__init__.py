"""Targets: hardware descriptions (energy per operation, with sources) and, later, the per-target backends."""
