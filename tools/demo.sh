#!/bin/sh
# README's main job: a real transfer between two users through a local
# Prosody, ferry-component and ferry-relay.
set -e
cd "$(dirname "$0")/.."
if [ ! -f plugin/cli/ferry.c ]; then
    echo "demo: the ferry CLI, component and relay are not built yet;" >&2
    echo "demo: see README.md, section Status." >&2
    exit 2
fi
