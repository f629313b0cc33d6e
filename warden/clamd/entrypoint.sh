#!/bin/sh
# clamd-entrypoint [clamd]     write clamd.conf from the environment, get signatures, exec clamd
# clamd-entrypoint freshclam   keep /var/lib/clamav current with freshclam, nothing else
set -eu

die() { echo "clamd-entrypoint: $*" >&2; exit 2; }

mode="${1:-clamd}"
conf_dir="${CLAMD_TMP:-/tmp}"
mkdir -p "$conf_dir"
conf="$conf_dir/clamd.conf"
fconf="$conf_dir/freshclam.conf"
has_db() { ls "$1" 2>/dev/null | grep -Eq "$2"; }
ANY_DB='\.(c[lv]d|hdb|hsb|ndb|ldb|mdb|msb|cdb|fp|sfp|ign2|yar|yara)$'

is_number() { case "$1" in ''|*[!0-9]*) return 1 ;; esac; }
is_number "${CLAMD_PORT:-3310}" || die "CLAMD_PORT must be a port number, got '${CLAMD_PORT}'"
is_number "${CLAMD_MAX_THREADS:-4}" || die "CLAMD_MAX_THREADS must be a number, got '${CLAMD_MAX_THREADS}'"
is_number "${CLAMD_DB_WAIT_S:-0}" || die "CLAMD_DB_WAIT_S must be a number of seconds, got '${CLAMD_DB_WAIT_S}'"
is_number "${CLAMD_SELF_CHECK_S:-600}" || die "CLAMD_SELF_CHECK_S must be a number of seconds, got '${CLAMD_SELF_CHECK_S}'"
is_number "${CLAMD_READ_TIMEOUT_S:-120}" || die "CLAMD_READ_TIMEOUT_S must be a number of seconds, got '${CLAMD_READ_TIMEOUT_S}'"

# notify: where freshclam tells clamd to reload (only when both run in this container)
write_freshclam_conf() {
  {
    echo "DatabaseDirectory /var/lib/clamav"
    echo "Foreground $1"
    echo "LogTime yes"
    echo "Checks ${CLAMD_FRESHCLAM_CHECKS:-12}"
    [ -n "$2" ] && echo "NotifyClamd $2"
    echo "PidFile $conf_dir/freshclam.pid"
    if [ -n "${CLAMD_PRIVATE_MIRROR:-}" ]; then
      echo "PrivateMirror $CLAMD_PRIVATE_MIRROR"
    else
      echo "DatabaseMirror ${CLAMD_DATABASE_MIRROR:-database.clamav.net}"
    fi
  } > "$fconf"
}

# First download, retried with a growing pause; the databases go to /var/lib/clamav.
first_download() {
  n=0
  until has_db /var/lib/clamav '\.(cvd|cld)$'; do
    n=$((n + 1))
    freshclam --config-file="$fconf" --foreground --stdout || true
    has_db /var/lib/clamav '\.(cvd|cld)$' && break
    [ "$n" -ge 10 ] && die "freshclam could not download signatures after $n attempts"
    sleep $((n * 10))
  done
}

case "$mode" in
  freshclam)
    write_freshclam_conf yes ""
    first_download
    # Foreground daemon: checks CLAMD_FRESHCLAM_CHECKS times a day; clamd sees new files by SelfCheck.
    exec freshclam --config-file="$fconf" --daemon --foreground --stdout
    ;;
  clamd) ;;
  *) die "unknown mode '$mode' (clamd or freshclam)" ;;
esac

case "${CLAMD_SIGNATURES:-freshclam}" in
  freshclam)
    db=/var/lib/clamav
    write_freshclam_conf no "$conf"
    ;;
  custom)
    db="${CLAMD_DB_DIR:-/signatures}"
    [ -d "$db" ] || die "CLAMD_SIGNATURES=custom but CLAMD_DB_DIR=$db is not a directory (mount your databases there)"
    waited=0
    until has_db "$db" "$ANY_DB"; do
      [ "$waited" -ge "${CLAMD_DB_WAIT_S:-0}" ] && die "no signature database (*.cvd, *.cld, *.hdb, *.ndb, ...) in CLAMD_DB_DIR=$db"
      [ "$waited" = 0 ] && echo "clamd-entrypoint: waiting up to ${CLAMD_DB_WAIT_S}s for databases in $db" >&2
      sleep 5
      waited=$((waited + 5))
    done
    ;;
  *) die "CLAMD_SIGNATURES must be freshclam or custom, got '${CLAMD_SIGNATURES}'" ;;
esac

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
SelfCheck ${CLAMD_SELF_CHECK_S:-600}
ReadTimeout ${CLAMD_READ_TIMEOUT_S:-120}
CONF

if [ "${CLAMD_SIGNATURES:-freshclam}" = freshclam ]; then
  first_download
  freshclam --config-file="$fconf" --daemon
fi

exec clamd -c "$conf"
