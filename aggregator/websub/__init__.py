"""The built-in WebSub hub: subscribers of this server's feeds get each change pushed to them.

* ``intents``: a ``POST /websub`` form, every parameter checked (pure).
* ``callbacks``: the verification GET and the content-distribution POST, guarded like fetches.
* ``hub``: the worker, run after each poll, or by ``aggregator push``; never in a request.

Subscriptions live in the database (``store.websub``); the feed a topic URL names, and its
bytes, come from ``topics``, as they do for the feed routes.
"""

from __future__ import annotations

from .hub import Hub, HubReport

__all__ = ["Hub", "HubReport"]
