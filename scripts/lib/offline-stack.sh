# Sourced by scripts/deploy.sh --offline, with the Pulumi CLI on PATH and its environment set.

# The stack settings of a host without Docker Hub, internet or (maybe) systemd.
offline_stack_config() {
  local stack=$1 bundle ca
  pulumi config set --stack "$stack" clawjail:nodeBaseImage clawjail-standin/node:24-bookworm-slim
  pulumi config set --stack "$stack" clawjail:debianBaseImage clawjail-standin/debian:bookworm-slim
  pulumi config set --stack "$stack" clawjail:cellEgress none
  pulumi config set --stack "$stack" clawjail:clamdSignatures custom
  if [ ! -d /run/systemd/system ]; then
    log "no systemd on this host: the moat is not restored at boot (run /etc/clawjail/moat-<prefix>.sh before dockerd starts)"
    pulumi config set --stack "$stack" clawjail:moatBootRestore none
  fi
  # A host behind a TLS-intercepting proxy keeps its CA in the system store; npm in the image
  # builds must trust it too.
  bundle="$clawjail_home/build-ca.pem"
  : >"$bundle.new"
  for ca in /usr/local/share/ca-certificates/*.crt; do [ -f "$ca" ] && cat "$ca" >>"$bundle.new"; done
  if [ -s "$bundle.new" ]; then
    mv "$bundle.new" "$bundle"
    pulumi config set --stack "$stack" clawjail:buildCaFile "$bundle"
  else
    rm -f "$bundle.new"
  fi
}

# clamd refuses to start without a database; an offline host has none to download.
offline_stack_signatures() {
  local stack=$1 prefix volume
  prefix=$(pulumi config get --stack "$stack" clawjail:namePrefix 2>/dev/null || echo clawjail)
  volume="$prefix-clamd-db"
  docker volume create --label "clawjail.stack=$prefix" "$volume" >/dev/null
  if docker run --rm --network none -v "$volume:/db" clawjail-standin/debian:bookworm-slim \
    sh -c 'ls /db | grep -q .'; then
    return 0
  fi
  log "WARNING: $volume holds no signatures; seeding the EICAR test signature only, so clamd starts."
  log "         The warden catches nothing else until you fill $volume with real signatures (README, 'Signatures')."
  printf '%s\n' '44d88612fea8a8f36de82e1278abb02f:68:Eicar-Test-Signature' |
    docker run --rm -i --network none -v "$volume:/db" clawjail-standin/debian:bookworm-slim \
      sh -c 'cat >/db/clawjail-offline.hdb && chmod 644 /db/clawjail-offline.hdb'
}
