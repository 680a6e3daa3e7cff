"""``python -m services.cli.main``: the same command as ``careloop``."""

from services.cli.main import app

app()
