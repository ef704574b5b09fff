#!/usr/bin/env bash
# `learnflow broker` speaks real Kafka: two independent clients — kcat (librdkafka CLI) and
# confluent-kafka-python — produce to it and consume from it, each reading what the other wrote.
# Usage: broker_clients_test.sh /path/to/learnflow
set -euo pipefail
learnflow="$1"
work="$(mktemp -d)"
broker_pid=""
cleanup() {
  [ -n "$broker_pid" ] && kill -TERM "$broker_pid" 2>/dev/null && wait "$broker_pid" || true
  rm -rf "$work"
}
trap cleanup EXIT

# The first stdout line is the contract: bootstrap.servers=HOST:PORT,... (a blocking read: no
# polling, no sleeps).
exec 3< <(exec "$learnflow" broker --brokers 3 --partitions 2 --topics clients.check 2>"$work/err")
broker_pid=$!
line=""
read -r -t 60 -u 3 line || { echo "no first line from learnflow broker"; cat "$work/err"; exit 1; }
case "$line" in
  bootstrap.servers=127.0.0.1:*) ;;
  *) echo "unexpected first line: '$line'"; cat "$work/err"; exit 1 ;;
esac
bootstrap="${line#bootstrap.servers=}"
echo "broker: $bootstrap"

# kcat produces three keyed messages.
printf 'k1:from-kcat-1\nk2:from-kcat-2\nk3:from-kcat-3\n' |
  kcat -b "$bootstrap" -t clients.check -P -K: -X topic.request.required.acks=all

# Python produces two, then reads all five back through a consumer group.
/usr/bin/python3 - "$bootstrap" <<'PY'
import sys
from confluent_kafka import Consumer, Producer
bootstrap = sys.argv[1]
p = Producer({"bootstrap.servers": bootstrap})
for i in (1, 2):
    p.produce("clients.check", key=f"p{i}", value=f"from-python-{i}")
assert p.flush(30) == 0, "python producer: undelivered messages"
c = Consumer({"bootstrap.servers": bootstrap, "group.id": "clients-check",
              "auto.offset.reset": "earliest", "session.timeout.ms": 6000,
              "heartbeat.interval.ms": 500})
c.subscribe(["clients.check"])
seen = set()
for _ in range(600):
    m = c.poll(0.1)
    if m is None or m.error():
        if len(seen) == 5:
            break
        continue
    seen.add(m.value().decode())
c.close()
want = {"from-kcat-1", "from-kcat-2", "from-kcat-3", "from-python-1", "from-python-2"}
assert seen == want, f"python consumer saw {sorted(seen)}"
print("python consumer: all 5 messages")
PY

# kcat reads all five back.
got="$(kcat -b "$bootstrap" -t clients.check -C -e -q -f '%s\n' | sort)"
want="$(printf 'from-kcat-1\nfrom-kcat-2\nfrom-kcat-3\nfrom-python-1\nfrom-python-2\n')"
if [ "$got" != "$want" ]; then
  echo "kcat consumer saw:"; echo "$got"; exit 1
fi
echo "kcat consumer: all 5 messages"

# SIGTERM stops the broker with exit code 0.
kill -TERM "$broker_pid"
status=0
wait "$broker_pid" || status=$?
broker_pid=""
[ "$status" -eq 0 ] || { echo "broker exit status $status"; exit 1; }
echo "1 passed, 0 failed"
