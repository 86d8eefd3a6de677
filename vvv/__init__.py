"""vvv: Unusual Whales market data into PostgreSQL."""

from pathlib import Path

__version__ = "0.1.0"


def build_commit() -> str | None:
    """The git commit the single executable was built from (written by scripts/build), else None."""
    try:
        return (Path(__file__).parent / "BUILD_COMMIT").read_text().strip() or None
    except OSError:
        return None
