#!/bin/bash
# vault-pki-agent node boot, shipped in the release tarball (`npm pack`) and run by the user data of
# the templates in this folder. Two entry points:
#
#   node-boot install PACKAGE_DIR   once per instance (cloud-init runcmd, after the loader in the user
#                                   data checked the tarball's SHA-256): install node + the agent file +
#                                   the units, run `bootstrap` through vault-pki-agent.service, scrub
#                                   cloud-init's copies of the token, then tell CloudFormation.
#   node-boot scrub                 every boot (/var/lib/cloud/scripts/per-boot): cloud-init writes its
#                                   cached copies of the user data again at each boot; remove them.
#   node-boot install-agent PACKAGE_DIR
#                                   install (or upgrade) only node, the agent's files, the units and the
#                                   agent's code cache; no bootstrap, no signal. `install` runs it first.
#
# The token is never printed, never passed in argv (grep reads it with -f), and there is no `set -x`:
# everything this script and the agent print ends up in /var/log/cloud-init-output.log and on the
# instance console.
#
# Settings come from /etc/vault-pki-agent/node-boot.env (written by the user data, no secrets):
#   CFN_SIGNAL CFN_STACK CFN_RESOURCE CFN_REGION   the success/failure signal (empty CFN_STACK: none)
#   NODE_PACKAGE          package providing Node.js >= 20 when the AMI has none (dnf or apt)
#   ATTACH_ENI_ID         etcd members: the member's fixed network interface, attached before bootstrap
# VPA_BOOT_ROOT prefixes every path this script touches (tests run `scrub` in a scratch directory).
set -euo pipefail
umask 077

ROOT="${VPA_BOOT_ROOT:-}"
ETC="$ROOT/etc/vault-pki-agent"
LIB="$ROOT/usr/local/lib/vault-pki-agent"
RUN="$ROOT/run/vault-pki-agent-boot"
# A copy of the token exactly as the user data carried it: a wrapped token is replaced in the token
# file by the unwrapped one, but cloud-init's copies hold the wrapped one.
USER_DATA_TOKEN="$RUN/user-data-token"

say() { printf 'vault-pki-agent node-boot: %s\n' "$*" >&2; }

# cloud-init keeps root-only copies of the user data (which carries the token) under
# /var/lib/cloud/instances/<id>/ and /run/cloud-init/. None of them is needed after the first boot's
# modules ran; cloud-init recreates the cache (obj.pkl, user-data.txt) from the metadata service at
# the next boot, which is why this also runs per boot.
scrub() {
  local dir patterns
  for dir in "$ROOT"/var/lib/cloud/instances/*/; do
    [ -d "$dir" ] || continue
    rm -f -- "$dir"user-data.txt "$dir"user-data.txt.i "$dir"cloud-config.txt "$dir"obj.pkl
  done
  rm -f -- "$ROOT"/run/cloud-init/instance-data-sensitive.json "$ROOT"/run/cloud-init/combined-cloud-config.json
  # Anything else that holds the token verbatim (a shell-script part, a runcmd script someone added).
  # The patterns go through a file (never argv); blank or short lines are dropped, because an empty
  # pattern would match, and remove, every file.
  patterns=$(mktemp)
  cat -- "$ETC/token" "$USER_DATA_TOKEN" 2>/dev/null | awk 'length($0) >= 8' >"$patterns" || true
  if [ -s "$patterns" ]; then
    grep -rlsF -f "$patterns" -- "$ROOT"/var/lib/cloud/instances "$ROOT"/run/cloud-init 2>/dev/null |
      while IFS= read -r file; do rm -f -- "$file"; done || true
  fi
  rm -f -- "$patterns"
}

signal() { # signal EXIT_CODE: 0 = success, anything else = failure (the rollout stops and rolls back)
  [ -n "${CFN_STACK:-}" ] || return 0
  "$CFN_SIGNAL" --exit-code "$1" --stack "$CFN_STACK" --resource "$CFN_RESOURCE" --region "$CFN_REGION" ||
    say "cfn-signal failed; CloudFormation will time out instead"
}

find_node() {
  local candidate path
  for candidate in node node-20 node20 node-22 node22; do
    path=$(command -v "$candidate" 2>/dev/null) || continue
    if "$path" -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 20 ? 0 : 1)'; then
      printf '%s\n' "$path"
      return 0
    fi
  done
  return 1
}

install_node() {
  if find_node >/dev/null; then return 0; fi
  say "installing ${NODE_PACKAGE:?NODE_PACKAGE is not set and no Node.js >= 20 was found}"
  if command -v dnf >/dev/null; then
    dnf install -y -q "$NODE_PACKAGE"
  elif command -v apt-get >/dev/null; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$NODE_PACKAGE"
  else
    say "no dnf or apt-get to install $NODE_PACKAGE"
    return 1
  fi
  find_node >/dev/null || { say "$NODE_PACKAGE did not provide Node.js >= 20"; return 1; }
}

install_agent() { # install_agent PACKAGE_DIR (an extracted `npm pack` tarball)
  local pkg="$1" node dir
  install_node
  node=$(find_node)
  install -d -m 0755 "$LIB"
  # The launcher and the program it reads from beside itself (an upgrade replaces both).
  install -m 0644 "$pkg/dist/vault-pki-agent-program.cjs" "$LIB/vault-pki-agent-program.cjs"
  install -m 0644 "$pkg/dist/vault-pki-agent.cjs" "$LIB/vault-pki-agent.cjs"
  # What an older release left (one .mjs file and its cache), and run caches of the program just replaced.
  rm -f -- "$LIB/vault-pki-agent.mjs" "$LIB/vault-pki-agent.mjs.cache" "$ROOT"/var/cache/vault-pki-agent/vault-pki-agent-*.cache
  # The units call /usr/local/bin/vault-pki-agent; the node binary's name differs between distributions.
  install -d -m 0755 "$ROOT/usr/local/bin" "$ROOT/etc/systemd/system"
  printf '#!/bin/sh\nexec %s %s "$@"\n' "$node" "$LIB/vault-pki-agent.cjs" >"$ROOT/usr/local/bin/vault-pki-agent"
  chmod 0755 "$ROOT/usr/local/bin/vault-pki-agent"
  install -m 0644 "$pkg"/units/*.service "$pkg"/units/*.timer "$ROOT/etc/systemd/system/"
  # The Kubernetes components wired to the agent's files (units/kubernetes/): installed on every node, started
  # only where the agent config's actions or the operator ask for them. A unit of that name someone else put in
  # /etc/systemd/system (the AMI, an operator) is kept: only ours, marked on its first line, is replaced.
  local unit dest
  for unit in "$pkg"/units/kubernetes/*.service; do
    dest="$ROOT/etc/systemd/system/$(basename "$unit")"
    if [ ! -e "$dest" ] || head -n 1 "$dest" | grep -q '^# Shipped by vault-pki-agent'; then
      install -m 0644 "$unit" "$dest"
    else
      say "keeping $dest (not ours)"
    fi
  done
  for dir in "$pkg"/units/dropins/*.service.d; do
    install -d -m 0755 "$ROOT/etc/systemd/system/$(basename "$dir")"
    install -m 0644 "$dir"/*.conf "$ROOT/etc/systemd/system/$(basename "$dir")/"
  done
  systemctl daemon-reload
  "$ROOT/usr/local/bin/vault-pki-agent" --version
  # V8's compiled code for this host's Node.js, beside the program: every later start skips compiling it.
  "$ROOT/usr/local/bin/vault-pki-agent" --write-code-cache || say "no code cache written: start-up is slower, nothing else changes"
  # A running `run` daemon keeps the program it started with (and an older one reads the set locks differently):
  # move it onto the agent just installed. Nothing happens when it is not running.
  systemctl try-restart vault-pki-agent-run.service
}

attach_eni() { # etcd members keep their address across replacements: a fixed ENI per member
  [ -n "${ATTACH_ENI_ID:-}" ] || return 0
  local token instance i
  token=$(curl -fsS -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' http://169.254.169.254/latest/api/token)
  instance=$(curl -fsS -H "X-aws-ec2-metadata-token: $token" http://169.254.169.254/latest/meta-data/instance-id)
  # The previous member's instance may still be shutting down: its ENI frees up when it is gone.
  for i in $(seq 1 60); do
    if aws ec2 attach-network-interface --region "$CFN_REGION" --network-interface-id "$ATTACH_ENI_ID" \
      --instance-id "$instance" --device-index 1 >/dev/null; then
      say "attached $ATTACH_ENI_ID"
      return 0
    fi
    say "waiting for $ATTACH_ENI_ID to be free ($i/60)"
    sleep 10
  done
  return 1
}

install_main() {
  local pkg="${1:?usage: node-boot install PACKAGE_DIR}" rc=0
  # shellcheck source=/dev/null
  . "$ETC/node-boot.env"
  install -d -m 0700 "$RUN"
  cp -- "$ETC/token" "$USER_DATA_TOKEN"
  trap 'rc=$?; scrub; rm -rf -- "$RUN"; signal "$rc"; exit "$rc"' EXIT
  attach_eni
  install_agent "$pkg"
  systemctl enable vault-pki-agent.service vault-pki-agent-renew.timer
  # A oneshot unit: `start` returns when `bootstrap` finished, non-zero when it failed.
  if ! systemctl start vault-pki-agent.service; then
    rc=1
    say "bootstrap failed; its log follows (the agent never logs the token)"
    journalctl -u vault-pki-agent.service -b --no-pager -o cat -n 40 >&2 || true
    return "$rc"
  fi
  systemctl start vault-pki-agent-renew.timer
  say "bootstrap succeeded"
}

case "${1:-}" in
  install) shift; install_main "$@" ;;
  install-agent) shift; install_agent "${1:?usage: node-boot install-agent PACKAGE_DIR}" ;;
  scrub) scrub ;;
  *) say "usage: node-boot install PACKAGE_DIR | node-boot install-agent PACKAGE_DIR | node-boot scrub"; exit 2 ;;
esac
