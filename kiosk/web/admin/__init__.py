"""The admin console (/admin): accounts and roles, sessions, CSRF, and one module of routes per page."""
