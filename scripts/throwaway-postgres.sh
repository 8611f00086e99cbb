# Sourced by .ci/run and scripts/bench.sh: start_throwaway_postgres starts a
# PostgreSQL cluster in a temp folder, owned by a non-root user, on a free
# loopback port, exports KB_TEST_POSTGRES, and removes it all on exit.
# Extra server settings may be passed as arguments (-c name=value).

start_throwaway_postgres() {
	local pgbin pguser port
	pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	if [ -z "$pgbin" ]; then
		echo "throwaway-postgres: PostgreSQL server binaries not found (apt-get install postgresql)" >&2
		return 1
	fi
	pguser=postgres
	id "$pguser" >/dev/null 2>&1 || useradd --system --no-create-home "$pguser"
	KB_PG_DIR=$(mktemp -d /tmp/kb-pg.XXXXXX)
	chown "$pguser" "$KB_PG_DIR"
	port=55433
	while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
	KB_PG_BIN=$pgbin
	KB_PG_USER=$pguser
	trap stop_throwaway_postgres EXIT
	runuser -u "$pguser" -- "$pgbin/initdb" -D "$KB_PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
	runuser -u "$pguser" -- "$pgbin/pg_ctl" -D "$KB_PG_DIR/data" -l "$KB_PG_DIR/log" -w \
		-o "-p $port -k $KB_PG_DIR -c listen_addresses=127.0.0.1 -c max_connections=300 $*" start >/dev/null
	export KB_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"
	echo "PostgreSQL on 127.0.0.1:$port ($KB_PG_DIR)"
}

stop_throwaway_postgres() {
	[ -n "${KB_PG_DIR:-}" ] || return 0
	runuser -u "$KB_PG_USER" -- "$KB_PG_BIN/pg_ctl" -D "$KB_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
	rm -rf "$KB_PG_DIR"
	KB_PG_DIR=
}
