"""aggregator: poll RSS/Atom/JSON feeds into SQL and republish filtered combined feeds."""

__version__ = "0.1.0"
