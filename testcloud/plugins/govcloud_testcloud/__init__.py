"""Glue code for the govcloud OpenStack test cloud (testcloud/)."""
