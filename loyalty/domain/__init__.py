"""The pure core: frozen dataclasses and functions, no I/O."""
