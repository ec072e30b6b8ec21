"""The state store: one SQLite file or PostgreSQL database holding what govcloud has done —
the last applied state, the apply journal and lock, the sim cloud's and the OpenStack driver's
own rows, and the tables the other rooms keep (usage, statements, requests, people, the audit
trail). ``store`` opens, checks and migrates it; ``tables`` holds its schema and makes a new
SQLite file; ``url`` parses its address; ``crashlog`` writes an internal error's traceback
beside it; ``dump``, ``restic`` and ``backup`` back it up (a consistent dump kept in restic,
copied to the DR site, restored and checked) and ``move`` copies a SQLite store into
PostgreSQL. Everything above reads and writes through ``store.Store``; drivers and services
see it only through the small interfaces declared beside them (``drivers.base.Rows``,
``services.base``)."""
