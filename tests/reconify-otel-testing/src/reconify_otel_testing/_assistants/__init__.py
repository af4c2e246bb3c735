"""The Assistants API stand-ins, split by concern; import them from ``assistants_api``."""
