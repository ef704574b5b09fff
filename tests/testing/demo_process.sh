# Sourced by the end-to-end scripts that drive `learnflow demo`; do not run it.
# start_demo LEARNFLOW: starts `learnflow demo` (100 learners, 3000 events/s, HTTP on a free
# loopback port) with its stdout readable on fd 3 and its stderr in "$work/err". Sets `work` (a
# temporary directory) and `demo_pid`; on exit the demo is killed (if still running) and `work`
# removed. A script that stops the demo itself sets demo_pid="" afterwards.
start_demo() {
  work="$(mktemp -d)"
  demo_pid=""
  trap '[ -n "$demo_pid" ] && kill -KILL "$demo_pid" 2>/dev/null; rm -rf "$work"' EXIT
  exec 3< <(exec "$1" demo --learners 100 --rate 3000 --http-listen 127.0.0.1:0 2>"$work/err")
  demo_pid=$!
}
