"""What the action server (actions/), the Rasa server (channels/, components/), the demo page's
server (web/serve.py) and the front-desk console (console/) share, so that none of them imports
another's package:

content: the content model and its loader (content/clinic.yml, answers.yml, facts.md) ·
names: the names of actions, slots, the callback form and its outcomes, visitors' verdicts and
the console's badges, each checked against domain.yml (tests/unit/test_clinic_package.py).

Nothing here imports Rasa or rasa-sdk.
"""
