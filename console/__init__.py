"""The front-desk console: a login-protected web app over Rasa's SQL tracker store (issue 4).

db: tables and engines · indexer: events -> summary tables · filters, queries: what pages show ·
auth: staff, sessions, CSRF, throttling · web, views, responses, templates/: the app ·
masking, similarity, exports: helpers · retention: the one write to Rasa's events · cli: commands.
"""
