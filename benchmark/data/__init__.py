"""Datasets (:mod:`.datasets`), the builders of their annotation lists (:mod:`.annotations`),
video containers' declared sizes (:mod:`.containers`) and video files in and out (:mod:`.video_io`)."""
