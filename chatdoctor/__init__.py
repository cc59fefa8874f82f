"""ChatDoctor: an open medical-assistant stack (core library)."""

__version__ = "0.1.0"
