"""Responses: validated, idempotent submissions; drafts encrypted; completed responses sealed (HPKE)."""
