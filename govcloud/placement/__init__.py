"""Pure placement: hosts and servers as placement sees them (``hosts``), placing them
(``place``) through the packing search (``packing`` and its stages ``filling``, ``exact``,
``slack``, ``overflow`` over ``bins``), capacity reports (``capacity``), a real cloud's hosts
(``cloud``), where apply puts new servers (``arrival``) and migration plans that free hosts
(``consolidation``). No I/O."""
