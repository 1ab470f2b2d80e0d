"""The revisions, oldest first by number: ``NNNN_what.py`` holds revision ``"NNNN"``."""
