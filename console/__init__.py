"""The front-desk console: a login-protected web app over Rasa's SQL tracker store (issues 4, 8,
12).

db: tables, engines, VAR_DIR · indexer: events -> summary tables (and notifications) · filters,
queries: what pages show, the audit log · auth: staff, admins, sessions (idle logout), CSRF,
throttling (visitors.address: the client's address behind a proxy) · notify: e-mail and on-page
notifications of new callback requests and emergencies · incidents: the Rasa server's spool of
unsaved turns (read only) · web, views, responses, templates/, static/: the app · masking,
similarity, exports: helpers · retention: the one write to Rasa's events · cli: commands.
"""
