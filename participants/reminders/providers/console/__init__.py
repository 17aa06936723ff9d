"""An SMS provider and an e-mail backend for ``make run``: they log a masked line instead of sending."""
