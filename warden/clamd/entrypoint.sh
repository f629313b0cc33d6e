#!/bin/sh
# Writes clamd.conf (and freshclam.conf) from the environment, gets signatures, execs clamd.
set -eu

die() { echo "clamd-entrypoint: $*" >&2; exit 2; }

conf_dir="${CLAMD_TMP:-/tmp}"
mkdir -p "$conf_dir"
conf="$conf_dir/clamd.conf"

case "${CLAMD_SIGNATURES:-freshclam}" in
  freshclam)
    db=/var/lib/clamav
    fconf="$conf_dir/freshclam.conf"
    {
      echo "DatabaseDirectory $db"
      echo "Foreground no"
      echo "LogTime yes"
      echo "Checks ${CLAMD_FRESHCLAM_CHECKS:-12}"
      echo "NotifyClamd $conf"
      echo "PidFile $conf_dir/freshclam.pid"
      if [ -n "${CLAMD_PRIVATE_MIRROR:-}" ]; then
        echo "PrivateMirror $CLAMD_PRIVATE_MIRROR"
      else
        echo "DatabaseMirror ${CLAMD_DATABASE_MIRROR:-database.clamav.net}"
      fi
    } > "$fconf"
    ;;
  custom)
    db="${CLAMD_DB_DIR:-/signatures}"
    [ -d "$db" ] || die "CLAMD_SIGNATURES=custom but CLAMD_DB_DIR=$db is not a directory (mount your databases there)"
    ls "$db" | grep -Eq '\.(c[lv]d|hdb|hsb|ndb|ldb|mdb|msb|cdb|fp|sfp|ign2|yar|yara)$' \
      || die "no signature database (*.cvd, *.cld, *.hdb, *.ndb, ...) in CLAMD_DB_DIR=$db"
    ;;
  *) die "CLAMD_SIGNATURES must be freshclam or custom, got '${CLAMD_SIGNATURES}'" ;;
esac

case "${CLAMD_PORT:-3310}" in ''|*[!0-9]*) die "CLAMD_PORT must be a port number, got '${CLAMD_PORT}'" ;; esac
case "${CLAMD_MAX_THREADS:-4}" in ''|*[!0-9]*) die "CLAMD_MAX_THREADS must be a number, got '${CLAMD_MAX_THREADS}'" ;; esac

cat > "$conf" <<CONF
Foreground yes
LogTime yes
TCPSocket ${CLAMD_PORT:-3310}
TCPAddr 0.0.0.0
DatabaseDirectory $db
TemporaryDirectory ${CLAMD_TMP:-/tmp}
MaxThreads ${CLAMD_MAX_THREADS:-4}
StreamMaxLength ${CLAMD_STREAM_MAX:-100M}
MaxFileSize ${CLAMD_MAX_FILE_SIZE:-100M}
MaxScanSize ${CLAMD_MAX_SCAN_SIZE:-400M}
AlertExceedsMax yes
ConcurrentDatabaseReload yes
SelfCheck 600
CONF

if [ "${CLAMD_SIGNATURES:-freshclam}" = freshclam ]; then
  # First download (blocking; retried), then keep updating in the background.
  n=0
  until ls "$db" | grep -Eq '\.(cvd|cld)$'; do
    n=$((n + 1))
    freshclam --config-file="$fconf" --foreground --stdout || true
    ls "$db" | grep -Eq '\.(cvd|cld)$' && break
    [ "$n" -ge 10 ] && die "freshclam could not download signatures after $n attempts"
    sleep $((n * 10))
  done
  freshclam --config-file="$fconf" --daemon
fi

exec clamd -c "$conf"
