"""What readers see: the paper's tables with our numbers beside them (:mod:`.tables`), their
figures (:mod:`.figures`) and attention-rollout pictures (:mod:`.rollout`); every table goes
through the one formatter, :mod:`benchmark.formatting`."""
