#!/bin/sh
# A committee member's container. It makes its own keys once (kept in its /keys volume, never
# copied), offers its public entry in /shared/entries, approves the genesis the conductor
# assembles from everyone's entries, and runs the node once every member has approved.
# Restarted (a crash, `docker kill`), it finds its keys and approval and runs again.
set -eu
name="${MEMBER_NAME:?set MEMBER_NAME to this member's name, e.g. member-0}"
shared=/shared
keys=/keys/member
password=/keys/password

wait_for() {
  while [ ! -e "$1" ]; do sleep 1; done
}

if [ ! -f "$keys/member.json" ]; then
  # The keystore's password: random, in the private volume only (owner-only files from here on).
  umask 077
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$password"
  # Fast KDF: a local committee restarts often; production keys use `keys new` without it.
  claystack-oracle keys new --dir "$keys" --password-file "$password" --fast-kdf --new-submitter-key
fi
umask 022
mkdir -p "$shared/entries" "$shared/approvals"
cp "$keys/member.json" "$shared/entries/.$name.tmp"
mv "$shared/entries/.$name.tmp" "$shared/entries/$name.json"
echo "member $name: entry offered; waiting for the genesis"

wait_for "$shared/genesis.json"
if [ ! -f "$shared/approvals/$name.json" ]; then
  claystack-oracle genesis approve --genesis "$shared/genesis.json" --keys-dir "$keys" \
    --password-file "$password" --out "$shared/approvals/.$name.tmp"
  mv "$shared/approvals/.$name.tmp" "$shared/approvals/$name.json"
fi
echo "member $name: genesis approved; waiting for every member's approval"
until claystack-oracle genesis verify --genesis "$shared/genesis.json" --approvals "$shared/approvals" >/dev/null 2>&1; do
  sleep 1
done
claystack-oracle genesis verify --genesis "$shared/genesis.json" --approvals "$shared/approvals"

# The conductor writes this member's node.toml (its index is its place in the genesis).
wait_for "$shared/names/$name"
index=$(cat "$shared/names/$name")
exec claystack-oracle run --config "$shared/member-$index/node.toml"
