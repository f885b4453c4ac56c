"""What tests share besides fixtures: registered models, served models, hostile tables, the CLI as a user runs it,
the session's MLflow store. Imported as ``helpers.<module>`` (tests/ is on the path as pytest's rootdir)."""
