#!/usr/bin/env bash
# The classic approach the agent replaces: one `curl .../issue/<role>` per certificate and one `jq` per file,
# nothing verified, files written in place (not atomic), no owner/mode handling beyond umask.
# Usage: VAULT_ADDR=... VAULT_TOKEN=... baseline-curl-jq.sh OUTDIR CLUSTER NODE IP LB
set -euo pipefail
out=$1 cluster=$2 node=$3 ip=$4 lb=$5
issue() { # dir mount role json
  mkdir -p "$out/$1"
  curl -sf -H "X-Vault-Token: $VAULT_TOKEN" -X POST -d "$4" "$VAULT_ADDR/v1/$2/issue/$3" > "$out/$1/response.json"
  jq -r .data.certificate "$out/$1/response.json" > "$out/$1/cert.pem"
  jq -r .data.private_key "$out/$1/response.json" > "$out/$1/key.pem"
  jq -r .data.issuing_ca "$out/$1/response.json" > "$out/$1/ca.pem"
  chmod 600 "$out/$1/key.pem"
  rm -f "$out/$1/response.json"
}
issue etcd-server "etcd/$cluster/pki" member \
  "{\"common_name\":\"$node\",\"alt_names\":\"$node,localhost,$lb\",\"ip_sans\":\"$ip,127.0.0.1,::1\",\"ttl\":\"24h\",\"key_type\":\"ec\"}"
issue etcd-peer "etcd/$cluster/pki" member \
  "{\"common_name\":\"$node\",\"alt_names\":\"$node,localhost\",\"ip_sans\":\"$ip,127.0.0.1,::1\",\"ttl\":\"24h\",\"key_type\":\"ec\"}"
issue apiserver "k8s/$cluster/pki" apiserver \
  "{\"common_name\":\"kube-apiserver\",\"alt_names\":\"$node,kubernetes,kubernetes.default,kubernetes.default.svc,kubernetes.default.svc.cluster.local,$lb\",\"ip_sans\":\"10.96.0.1,$ip\",\"ttl\":\"24h\",\"key_type\":\"ec\"}"
issue kubelet-client "k8s/$cluster/pki" kubelet-client \
  "{\"common_name\":\"system:node:$node\",\"ttl\":\"24h\",\"key_type\":\"ec\"}"
