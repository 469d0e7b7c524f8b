"""The web tests import their helpers (web_support) from this directory."""
