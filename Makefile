# The two commands a newcomer needs: `make run` (set up, train if needed, start everything) and
# `make test` (set up, train if needed, run every test). See README.md.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
MODEL := models/clinic.tar.gz

export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export SQLALCHEMY_SILENCE_UBER_WARNING := 1

.PHONY: help setup train run test unit lint format validate bench lock clean staff-user

help:  ## this list
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## /  make \1\t/' | expand -t 22

setup:  ## create .venv and install everything (Debian packages too, as root)
	@scripts/setup.sh

# Everything the model is trained from. With none of it newer than the model, `make train`
# does nothing; otherwise Rasa retrains only the components whose inputs changed (its cache
# fingerprints config, domain, data and our spaCy pipeline).
TRAINING_INPUTS := config.yml domain.yml requirements.lock content/synonyms.yml \
	$(shell find data nlp/en_clinic_pipeline components -type f \( -name '*.yml' -o -name '*.py' -o -name '*.json' \) 2>/dev/null)

train: setup $(MODEL)  ## retrain the model if its inputs changed

$(MODEL): $(TRAINING_INPUTS)
	@$(BIN)/rasa train --fixed-model-name clinic --out models

validate: setup  ## rasa data validate
	@$(BIN)/rasa data validate --fail-on-warnings

run: train  ## start everything (chat, demo page, console) in the foreground
	@scripts/run.sh

# Several Rasa processes behind nginx, PostgreSQL and Redis on loopback ports (scripts/cluster.py,
# README "Deploy"); RASA_REPLICAS=3 make cluster for three. Ctrl-C stops them all.
.PHONY: cluster
cluster: train  ## the cluster: nginx, RASA_REPLICAS Rasa servers, PostgreSQL, Redis
	@$(BIN)/python -m scripts.cluster

test: train  ## every test (CI runs `make lint` and this)
	@scripts/test.sh

unit: setup  ## the unit tests alone, in seconds
	@$(BIN)/python -m pytest tests/unit -q

lint: setup  ## ruff's checks (pyproject.toml)
	@$(BIN)/ruff check .

format: setup  ## reformat the code with ruff
	@$(BIN)/ruff format .

# A front-desk console account (the first one, or another): make staff-user STAFF=alice
# asks for the password twice; ADMIN=1 makes it an admin (who also reads the audit log). See
# `.venv/bin/python -m console --help` for the other commands.
staff-user: setup  ## a console account: make staff-user STAFF=name [ADMIN=1]
	@test -n "$(STAFF)" || { echo "Usage: make staff-user STAFF=name [ADMIN=1]"; exit 2; }
	@$(BIN)/python -m console create-user "$(STAFF)" $(if $(ADMIN),--admin)

# Speed, memory, NLU and triage quality against Rasa's starter bot, a TF-IDF baseline, Rasa's
# DIET and the first version's red-flag phrases, in one run (about an hour on 2 busy cores,
# most of it DIET's training). ARGS=--quick: fewer conversations and folds, no DIET;
# ARGS=--faults runs the soak and fault suite, ARGS=--safety the triage, ARGS=--long one
# conversation of 1,000 messages, ARGS=--cluster two replicas against one.
bench: train  ## speed, memory, NLU and triage figures (ARGS=--quick|--safety|--faults|--long|--cluster)
	@$(BIN)/python -m bench.run $(ARGS)

# Every source address cited by content/answers.yml (and clinic.yml's page addresses) with its
# HTTP status; needs the network, so it is not part of `make test`. ARGS=--all also checks every
# address in content/facts.md.
.PHONY: linkcheck
linkcheck: setup  ## every cited address's HTTP status (needs the network)
	@$(BIN)/python -m scripts.linkcheck $(ARGS)

# Regenerate requirements.lock from requirements.in in a scratch environment.
lock:  ## regenerate requirements.lock from requirements.in
	@scripts/lock.sh

clean:  ## remove .venv, models and the databases under var/
	rm -rf $(VENV) models .rasa var/*.db
