#!/bin/sh
# Installs the tools the Kafka plugin tests use besides Go: Debian's kcat,
# an independent Kafka client that produces their input and reads their
# output. It does nothing when kcat is already on PATH, so CI may run it
# on every build. The tests themselves need no broker: they start
# franz-go's kfake cluster on 127.0.0.1.
#
# Without kcat those tests skip, except under CI=true, where they fail.
set -eu

if command -v kcat >/dev/null 2>&1; then
	exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		exec sudo -n "$0" "$@"
	fi
	echo "ci-kafka-tools: kcat is missing; install Debian's kcat package (as root: apt-get install kcat)" >&2
	exit 1
fi
echo "ci-kafka-tools: installing kcat" >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends kcat >/dev/null
kcat -V >&2
