"""Pure placement: packing servers onto hosts (``packing``, ``hosts``), capacity reports
(``capacity``) and migration plans that free hosts (``consolidation``). No I/O."""
