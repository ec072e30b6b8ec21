"""The audit trail: every decision appended to a hash-chained record in the state store, read
back, verified and exported (``trail``). The chain's pure arithmetic is ``core.trail``."""
