"""Writes to the panel register, one module per concern."""
