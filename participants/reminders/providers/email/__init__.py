"""E-mail reminders through Django's e-mail backends."""
