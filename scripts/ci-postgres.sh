#!/usr/bin/env bash
# Starts a throwaway PostgreSQL server for the postgres plugin tests and
# prints the line that points the tests at it:
#
#	eval "$(scripts/ci-postgres.sh)"      # sets FLOWCTL_TEST_POSTGRES
#	go test -race ./plugins/sources/postgres/ ./plugins/sinks/postgres/
#
# It installs Debian's postgresql package if no server binaries are found
# (as root, or through sudo -n), initialises a cluster in a new temporary
# directory, starts it on 127.0.0.1 on a free port with fsync off (the data
# is thrown away, so durability is not worth the time), creates the
# database flowctl_test and a superuser flowctl with a random password
# (password authentication over TCP, so the tests can check wrong
# passwords), and prints
#
#	export FLOWCTL_TEST_POSTGRES='postgres://flowctl:...@127.0.0.1:PORT/flowctl_test?sslmode=disable'
#	export FLOWCTL_TEST_POSTGRES_DIR='/tmp/flowctl-pg.XXXXXX'
#
# on standard output; progress goes to standard error. Stop the server with
#
#	scripts/ci-postgres.sh stop "$FLOWCTL_TEST_POSTGRES_DIR"
#
# which also removes the directory. initdb and the server refuse to run as
# root, so as root they run as the postgres user (created by the package).
set -euo pipefail

log() { echo "ci-postgres: $*" >&2; }

# bindir prints the newest PostgreSQL server bin directory, if any.
bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	return 1
}

# as_owner runs a command as the user that owns the cluster.
as_owner() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

if [ "${1:-}" = "stop" ]; then
	dir="${2:?usage: ci-postgres.sh stop DIR}"
	bin="$(bindir)"
	as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >&2 || true
	rm -rf "$dir"
	exit 0
fi

bin="$(bindir || true)"
if [ -z "$bin" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			log "installing postgresql with sudo"
			sudo -n apt-get update -qq >/dev/null
			sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
		else
			log "PostgreSQL is missing; install Debian's postgresql package (as root: apt-get install -y postgresql)"
			exit 1
		fi
	else
		log "installing postgresql"
		apt-get update -qq >/dev/null
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
	fi
	bin="$(bindir)"
fi

# free_port prints a TCP port nothing listens on at 127.0.0.1.
free_port() {
	local p
	for _ in $(seq 1 100); do
		p=$((20000 + RANDOM % 40000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	log "no free port found"
	return 1
}

dir="$(mktemp -d /tmp/flowctl-pg.XXXXXX)"
chmod 755 "$dir"
password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
printf '%s\n' "$password" >"$dir/pwfile"
if [ "$(id -u)" -eq 0 ]; then
	chown -R postgres: "$dir"
fi
chmod 600 "$dir/pwfile"

log "initdb in $dir/data ($bin)"
as_owner "$bin/initdb" -D "$dir/data" -U flowctl --pwfile="$dir/pwfile" \
	--auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 ||
	{ cat "$dir/initdb.log" >&2; exit 1; }
rm -f "$dir/pwfile"

for attempt in 1 2 3; do
	port="$(free_port)"
	log "starting on 127.0.0.1:$port"
	if as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
		start >&2; then
		break
	fi
	cat "$dir/server.log" >&2
	if [ "$attempt" -eq 3 ]; then exit 1; fi
done

as_owner "$bin/createdb" -h "$dir" -p "$port" -U flowctl flowctl_test

echo "export FLOWCTL_TEST_POSTGRES='postgres://flowctl:$password@127.0.0.1:$port/flowctl_test?sslmode=disable'"
echo "export FLOWCTL_TEST_POSTGRES_DIR='$dir'"
log "ready; stop with: scripts/ci-postgres.sh stop $dir"
