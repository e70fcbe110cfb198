# The Docker deployment of ringlb: one image (docker/Dockerfile) for the
# balancer and its replicas, run with compose (docker/docker-compose.yml).
# Settings (environment or make VAR=value):
#   RINGLB_PORT      host port of the balancer (5000)
#   RINGLB_IMAGE     the image (ringlb:latest)
#   RINGLB_INSTANCE  the balancer's instance label on its replicas (ringlb)
#   RINGLB_NETWORK   the network of the balancer and its replicas (ringlb)
#   RINGLB_PROJECT   the compose project name (ringlb)
#   RINGLB_STACK     the Swarm stack name (ringlb)              swarm-up, swarm-down
#   RINGLB_SWARM_NETWORK  the overlay network of the stack and its replicas (ringlb-swarm)
#   RINGLB_SWARM_PREFIX   put before replica service names (ringlb-)
#   NODE_BASE        the Node base image (node:20-slim); when it can be neither
#                    found nor pulled, or RINGLB_LOCAL_BASE=1, a base is made
#                    from this machine's Node by docker/make-base.sh

export RINGLB_PORT ?= 5000
export RINGLB_IMAGE ?= ringlb:latest
export RINGLB_INSTANCE ?= ringlb
export RINGLB_NETWORK ?= ringlb
export RINGLB_PROJECT ?= ringlb
export RINGLB_STACK ?= ringlb
export RINGLB_SWARM_NETWORK ?= ringlb-swarm
export RINGLB_SWARM_PREFIX ?= ringlb-
NODE_BASE ?= node:20-slim
LOCAL_BASE ?= ringlb-node-base:local
# under CI no registry is ever asked: the base is made from the machine's Node
ifneq ($(filter-out 0 false,$(CI)),)
RINGLB_LOCAL_BASE ?= 1
endif
RINGLB_LOCAL_BASE ?= 0

# the classic builder: it needs no BuildKit component, and builds on the host network
export DOCKER_BUILDKIT := 0
COMPOSE := $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
COMPOSE_RUN := $(COMPOSE) -f docker/docker-compose.yml -p $(RINGLB_PROJECT)
# the replica containers this deployment's balancer started
REPLICAS = docker ps -aq --filter label=ringlb.instance=$(RINGLB_INSTANCE)

.PHONY: build base up up-detached down stop rm logs rebuild swarm-up swarm-down
# the node label swarm-up leaves when it made the swarm itself, so that swarm-down undoes only that
SWARM_INIT_LABEL = ringlb.swarm-init

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

# Beyond one host (docker/stack.yml): builds a missing image on the local
# base (no registry is asked), initialises a single-node swarm when the
# engine is in none (marking it so that swarm-down leaves it again), creates
# the overlay network, deploys the stack with the image by ID.
swarm-up:
	@docker image inspect $(RINGLB_IMAGE) >/dev/null 2>&1 || $(MAKE) build RINGLB_LOCAL_BASE=1
	@if [ "$$(docker info -f '{{.Swarm.LocalNodeState}}')" = inactive ]; then \
	  echo "initialising a single-node swarm"; \
	  docker swarm init --advertise-addr 127.0.0.1 >/dev/null && \
	  docker node update --label-add $(SWARM_INIT_LABEL)=$(RINGLB_STACK) "$$(docker info -f '{{.Swarm.NodeID}}')" >/dev/null; \
	fi
	@docker network inspect $(RINGLB_SWARM_NETWORK) >/dev/null 2>&1 || docker network create -d overlay --attachable $(RINGLB_SWARM_NETWORK) >/dev/null
	RINGLB_IMAGE_ID=$$(docker image inspect -f '{{.Id}}' $(RINGLB_IMAGE)) docker stack deploy --resolve-image never -c docker/stack.yml $(RINGLB_STACK)

# the balancers go first so that none restarts a replica being removed; then
# the replica services and their id reservations, by label, and the network;
# each step waits until the containers are gone (a task stops after its
# lame-duck time)
swarm-down:
	@docker stack rm $(RINGLB_STACK) 2>/dev/null || true
	@for _ in $$(seq 1 150); do [ -z "$$(docker ps -aq --filter label=com.docker.stack.namespace=$(RINGLB_STACK))" ] && break; sleep 0.2; done
	@docker service ls -q --filter label=ringlb.instance=$(RINGLB_INSTANCE) | xargs -r docker service rm >/dev/null
	@docker config ls -q --filter label=ringlb.instance=$(RINGLB_INSTANCE) | xargs -r docker config rm >/dev/null
	@for _ in $$(seq 1 150); do [ -z "$$(docker ps -aq --filter label=ringlb.swarm-instance=$(RINGLB_INSTANCE))" ] && break; sleep 0.2; done
	@for _ in $$(seq 1 50); do ! docker network inspect $(RINGLB_SWARM_NETWORK) >/dev/null 2>&1 && break; docker network rm $(RINGLB_SWARM_NETWORK) >/dev/null 2>&1 || sleep 0.2; done
	@if [ "$$(docker node inspect self -f '{{index .Spec.Labels "$(SWARM_INIT_LABEL)"}}' 2>/dev/null)" = "$(RINGLB_STACK)" ] && [ -z "$$(docker service ls -q)" ]; then \
	  echo "leaving the single-node swarm swarm-up made"; \
	  docker swarm leave --force >/dev/null; \
	  for _ in $$(seq 1 100); do ! docker network inspect docker_gwbridge >/dev/null 2>&1 && break; docker network rm docker_gwbridge >/dev/null 2>&1 || sleep 0.2; done; \
	  docker network inspect docker_gwbridge >/dev/null 2>&1 && echo "docker_gwbridge is still in use: $$(docker network inspect -f '{{json .Containers}}' docker_gwbridge)"; true; \
	fi
