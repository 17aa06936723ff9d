"""Twilio Programmable Messaging: client, status callback parser and a fake server for tests."""
