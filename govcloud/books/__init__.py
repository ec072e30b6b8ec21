"""The books: finance read from and kept in the state store. ``records`` holds usage, closed
months, adjustments and ratings; ``accounts`` assembles a month's utilization, chargeback,
savings and unit costs from them; ``closing`` closes, reopens, adjusts, re-rates and publishes
a month, every one audited. The arithmetic itself is the pure ``govcloud.finance``."""
