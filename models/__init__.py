"""Label schema, quote extraction, network and predictor: what serving and training share."""

__version__ = "0.2.0"
