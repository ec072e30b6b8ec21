"""govcloud: tenancy plans to a shared government cloud, with chargeback and savings."""

__version__ = "0.1.0"
