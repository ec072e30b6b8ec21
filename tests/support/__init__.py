"""What the tests share, one copy of each: example estates and edits to their files
(``estate``), the CLI as a subprocess (``cli``), the test pyramid's markers and sizes
(``pyramid``), real components on loopback (``components``), headless Chromium
(``chromium``), the OpenStack test cloud (``testcloud``) and the shared-service rig
(``rig``)."""
