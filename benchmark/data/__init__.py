"""Datasets (:mod:`.datasets`), the builders of their annotation lists (:mod:`.annotations`),
video containers' declared sizes (:mod:`.containers`), video files in and out (:mod:`.video_io`),
the decoding backends (:mod:`.decoders`), pipeline steps that do less for the same output
(:mod:`.transforms`), re-encoding (:mod:`.reencode`) and the built-in Kinetics-like set
(:mod:`.kinetics_like`)."""
