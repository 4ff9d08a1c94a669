"""Bridges to the comment systems sites already run (mailbridge.bridges.wordpress)."""
