"""From table rows to records: what a run is (:mod:`.spec`), how its config is read
(:mod:`.config`) and recipe made (:mod:`.recipes`), which runs each table needs (:mod:`.tables`),
how they are launched (:mod:`.launch`) and run (:mod:`.job`), what a finished run records
(:mod:`.records`, scored by :mod:`.metrics`; ensembles: :mod:`.ensemble`), the state of one
that has not finished (:mod:`.state`), and the looks before running (:mod:`.preflight`)."""
