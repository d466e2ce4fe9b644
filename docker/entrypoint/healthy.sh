#!/bin/bash
# Health check: healthy.sh PORT [PATH] succeeds when 127.0.0.1:PORT answers PATH with 200.
# PORT may be "member:NAME", the API port of member NAME (API_BASE_PORT + its genesis index).
# bash's /dev/tcp: the slim image has no curl.
set -eu
port=$1
path=${2:-/health}
if [[ $port == member:* ]]; then
  index=$(cat "/shared/names/${port#member:}")
  port=$((${API_BASE_PORT:-8600} + index))
fi
exec 3<>"/dev/tcp/127.0.0.1/$port"
printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$path" >&3
read -r _ status _ <&3
[ "$status" = 200 ]
