#!/bin/sh
# The beacon simulator's container: serves the scenario the conductor writes to
# /shared/scenario.toml (its genesis time is on anvil's clock) on 127.0.0.1:$BEACON_PORT.
set -eu
while [ ! -f /shared/scenario.toml ]; do sleep 1; done
exec claystack-oracle sim beacon --scenario /shared/scenario.toml --listen "127.0.0.1:${BEACON_PORT:-5052}"
