"""The paper's tables as data (:mod:`.paper`) and the models their rows name (:mod:`.catalogue`)."""
