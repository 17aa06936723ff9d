"""Environment variables, read in one place. A secret may also come from a file: ``NAME_FILE=/path``."""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()


def secret(name: str, default: str | None = None) -> str:
    """``NAME`` from the environment, or the contents of the file named by ``NAME_FILE``."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        return Path(path).read_text().strip()
    if default is None:
        return env.str(name)
    return env.str(name, default=default)
