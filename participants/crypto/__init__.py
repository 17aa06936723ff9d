"""Encryption primitives for participant data: a server key ring and HPKE sealing to the research team."""
