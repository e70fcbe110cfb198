# The Docker deployment of ringlb: one image (docker/Dockerfile) for the
# balancer and its replicas, run with compose (docker/docker-compose.yml).
# Settings (environment or make VAR=value):
#   RINGLB_PORT      host port of the balancer (5000)
#   RINGLB_IMAGE     the image (ringlb:latest)
#   RINGLB_INSTANCE  the balancer's instance label on its replicas (ringlb)
#   RINGLB_NETWORK   the network of the balancer and its replicas (ringlb)
#   RINGLB_PROJECT   the compose project name (ringlb)
#   NODE_BASE        the Node base image (node:20-slim); when it can be neither
#                    found nor pulled, or RINGLB_LOCAL_BASE=1, a base is made
#                    from this machine's Node by docker/make-base.sh

export RINGLB_PORT ?= 5000
export RINGLB_IMAGE ?= ringlb:latest
export RINGLB_INSTANCE ?= ringlb
export RINGLB_NETWORK ?= ringlb
export RINGLB_PROJECT ?= ringlb
NODE_BASE ?= node:20-slim
LOCAL_BASE ?= ringlb-node-base:local
RINGLB_LOCAL_BASE ?= 0

# the classic builder: it needs no BuildKit component, and builds on the host network
export DOCKER_BUILDKIT := 0
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_RUN := $(COMPOSE) -f docker/docker-compose.yml -p $(RINGLB_PROJECT)
# the replica containers this deployment's balancer started
REPLICAS = docker ps -aq --filter label=ringlb.instance=$(RINGLB_INSTANCE)

.PHONY: build base up up-detached down stop rm logs rebuild

build:
	@if [ "$(RINGLB_LOCAL_BASE)" != 1 ] && { docker image inspect $(NODE_BASE) >/dev/null 2>&1 || docker pull $(NODE_BASE) >/dev/null 2>&1; }; then \
	  base=$(NODE_BASE); \
	else \
	  echo "$(NODE_BASE) is not available: using a base made from this machine's Node ($(LOCAL_BASE))"; \
	  docker image inspect $(LOCAL_BASE) >/dev/null 2>&1 || sh docker/make-base.sh $(LOCAL_BASE) || exit 1; \
	  base=$(LOCAL_BASE); \
	fi; \
	docker build --force-rm --network host --build-arg NODE_BASE=$$base -t $(RINGLB_IMAGE) -f docker/Dockerfile .

# (re)makes the local Node base from this machine's node
base:
	sh docker/make-base.sh $(LOCAL_BASE)

# the image is built first when it is missing: there is no registry to pull it from
up:
	@docker image inspect $(RINGLB_IMAGE) >/dev/null 2>&1 || $(MAKE) build
	$(COMPOSE_RUN) up

up-detached:
	@docker image inspect $(RINGLB_IMAGE) >/dev/null 2>&1 || $(MAKE) build
	$(COMPOSE_RUN) up -d

# the balancer stops first so that it does not replace the replicas being removed
down:
	$(COMPOSE_RUN) stop
	$(REPLICAS) | xargs -r docker rm -f
	$(COMPOSE_RUN) down --remove-orphans

stop:
	$(COMPOSE_RUN) stop
	$(REPLICAS) | xargs -r docker stop

rm:
	$(COMPOSE_RUN) rm -f -s
	$(REPLICAS) | xargs -r docker rm -f

logs:
	$(COMPOSE_RUN) logs -f

rebuild: down build up-detached
