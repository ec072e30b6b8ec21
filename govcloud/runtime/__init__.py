"""The runtime edge: reads the estate's files (``files``, ``loader``), keeps state
(``store``, ``records``), runs plans (``engine``, ``apply``), assembles reports from the
store (``accounts``) and serves metrics (``exporter``)."""
