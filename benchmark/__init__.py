"""Paper tables as data, complexity measurement and the ``vidtr-bench`` command line."""
