"""Typed errors. Every user-facing problem raises a TimbralError subclass whose message names
the file (or setting) and the problem, on one line; the CLI prints it and exits with code 2."""


class TimbralError(Exception):
    """Base class of every error timbral reports to a user."""


class ConfigError(TimbralError):
    """A setting, preset or command-line value is invalid."""


class DatasetError(TimbralError):
    """A MedleyDB tree, metadata file, track list or annotation is missing or malformed."""


class TaxonomyError(DatasetError):
    """A label is not covered by the chosen taxonomy, or a taxonomy file is malformed."""


class AudioError(TimbralError):
    """An audio file is missing, unreadable, corrupt, empty or silent."""


class ModelError(TimbralError):
    """A model artifact is missing, mismatched or tampered with."""
