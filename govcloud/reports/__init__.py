"""Renderers: tables, HTML, XLSX and the open-data release, from finance values to bytes or
text. Pure: they never open the state store or write files (``govcloud.books.accounts``
gathers the figures; the CLI writes)."""
