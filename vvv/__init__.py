"""vvv: Unusual Whales market data into PostgreSQL."""

__version__ = "0.1.0"
