"""Every SQL statement of the project, by what it is about.

* ``sources``: sync the configured sources, pick the due ones, record each poll's outcome.
* ``items``: write one source's items in one transaction (bulk upserts, tags, sightings).
* ``slices``: read filtered slices, tags and source health for the API and the CLI
  (``itemviews``: the rows as ``ItemView``s).
* ``audience``: what the public may see of private sources' data: the conditions every read adds.
* ``tokens``: the tokens of private outputs, stored hashed.
* ``ordering``: the popular and rising orders of a slice.
* ``history``: the bookmark-count history a poll records, and its compaction.
* ``locks``: named leases with an expiry (the SQLite poll run lock, the forced sweep).
* ``leases``: per-source leases: pollers claim due sources (``FOR UPDATE SKIP LOCKED``) and share them.

Database errors leave this package as ``StorageError``.
"""
