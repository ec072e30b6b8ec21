"""The estate's files: the one reader and writer of the operator's folder (``files``), loading
and checking all of it at once (``loader``, with policy rules run under time and memory limits
in ``rulelimits``), writing a new estate or department skeleton (``onboarding``) and editing a
plan file while keeping its comments (``planedit``)."""
