"""The ``optkit`` command line (click + rich). Commands render; the library computes."""
