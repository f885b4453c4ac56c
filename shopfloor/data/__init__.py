"""Data in: simulators for the embedded default and the checks every table goes through."""
