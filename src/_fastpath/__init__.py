"""Compiled packet path (placeholder until the fast-path modules land)."""

IMPLEMENTATION = "pure"
