"""The front-desk console: a login-protected web app over Rasa's SQL tracker store (issues 4, 8).

db: tables, engines, VAR_DIR · indexer: events -> summary tables · filters, queries: what pages
show · auth: staff, sessions, CSRF, throttling · addresses: the client's address behind a proxy ·
incidents: the Rasa server's spool of unsaved turns (read only) · web, views, responses,
templates/: the app · masking, similarity, exports: helpers · retention: the one write to Rasa's
events · cli: commands.
"""
