"""Pure: the filter language shared by ``filter=``, ``[[outputs]] filter`` and ``aggregator items``.

``syntax`` reads a query into a tree (``Term``, ``Not``, ``And``, ``Or``), ``values`` checks
and normalizes each term's value with the caller's validators, ``forms`` writes a tree back
out. SQL belongs to ``store.filtersql``; nothing here touches a database.
"""

from .forms import canonical, conjoin, describe, terms_of
from .syntax import FIELDS, MAX_DEPTH, MAX_LENGTH, And, Bounds, Expr, Kind, Not, Or, Term, parse_query
from .values import Checks, check_values

__all__ = [
    "FIELDS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "And",
    "Bounds",
    "Checks",
    "Expr",
    "Kind",
    "Not",
    "Or",
    "Term",
    "canonical",
    "check_values",
    "conjoin",
    "describe",
    "parse_query",
    "terms_of",
]
