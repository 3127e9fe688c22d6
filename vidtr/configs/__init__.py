"""mmaction2 config files for the named VidTr models (one ``<name>.py`` each) and the data
settings they share. ``vidtr.config_path(name)`` gives a model's file."""
