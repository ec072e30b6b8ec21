"""The web portal and HTTP API (``govcloud serve``): an edge package like the CLI, a thin
shell over the same engine. ``routes`` is the one table of what exists and who may use it;
``views`` gathers each page's data from the engine; ``sessions`` signs people in and keeps
their sessions and CSRF tokens; ``app`` builds the Starlette application from the table."""
