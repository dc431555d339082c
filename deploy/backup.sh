#!/bin/sh
# Back up citybot's PostgreSQL database with pg_dump's custom format (-Fc: compressed, restored
# with pg_restore, README "Backups"): one file a run, named by the time (UTC), written under a
# temporary name and renamed when complete, readable by its owner only (it holds personal data).
# Dumps older than BACKUP_KEEP_DAYS are deleted.
#
#   deploy/backup.sh once     one dump now (cron, a systemd timer, before an upgrade)
#   deploy/backup.sh daily    one dump every day at BACKUP_AT (the compose service `backup`)
#
# The connection comes from libpq's variables: PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE.
# BACKUP_DIR (default ./backups), BACKUP_KEEP_DAYS (default 14), BACKUP_AT (HH:MM, default 02:30,
# in the time zone TZ).
set -eu
umask 077
dir="${BACKUP_DIR:-./backups}"
keep="${BACKUP_KEEP_DAYS:-14}"
at="${BACKUP_AT:-02:30}"

dump() {
	mkdir -p "$dir"
	file="$dir/${PGDATABASE:-citybot}-$(date -u +%Y%m%dT%H%M%SZ).dump"
	if ! pg_dump -Fc -f "$file.part"; then
		rm -f "$file.part"
		return 1
	fi
	mv "$file.part" "$file"
	echo "backup: wrote $file ($(wc -c <"$file") bytes)"
	find "$dir" -maxdepth 1 -name '*.dump' -type f -mtime +"$keep" -print -delete |
		sed 's/^/backup: deleted /'
}

case "${1:-}" in
once)
	dump
	;;
daily)
	# Stopped at once (docker compose stop): the wait is a child the trap can interrupt.
	trap 'kill "$pause" 2>/dev/null; exit 0' TERM INT
	while :; do
		now=$(date +%s)
		next=$(date -d "today $at" +%s)
		[ "$next" -gt "$now" ] || next=$(date -d "tomorrow $at" +%s)
		sleep $((next - now)) &
		pause=$!
		wait "$pause"
		# A failed dump (the database restarting) is logged and tried again the next day.
		dump || echo "backup: FAILED, see above" >&2
	done
	;;
*)
	echo "usage: $0 once|daily" >&2
	exit 2
	;;
esac
