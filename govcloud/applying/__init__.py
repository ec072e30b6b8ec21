"""Applying the plans: the operations the command line and the portal offer, each one call
(``engine``: validate, plan, apply, drift, show), carrying out a plan's changes journaled and
concurrently (``apply``), and carrying out a consolidation's live migrations
(``migrations``)."""
