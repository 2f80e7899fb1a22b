"""calbench: measure and train the calibration of language models' stated confidence."""

__version__ = "0.1.0"
