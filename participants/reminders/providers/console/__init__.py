"""An SMS provider for ``make run``: it logs a masked line instead of sending."""
