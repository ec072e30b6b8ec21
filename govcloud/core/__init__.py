"""The pure core: the estate model, its documents and schemas, checks, policy, desired state,
plans and drift. No module here opens a file, a socket or a database, or imports click, a
driver or the state store (``tests/architecture/test_architecture.py`` checks it)."""
