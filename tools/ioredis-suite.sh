#!/usr/bin/env bash
# Runs ioredis's own mocha suite (github.com/redis/ioredis, tag v6.0.0 by default) twice: straight
# against a fresh redis-server (the baseline), then against keywarden (no config file, one worker)
# in front of another fresh redis-server. Prints "N passed, M failed" for each run and lists every
# test that fails through keywarden but passes direct. A development check, not part of the test
# command: it needs a copy of ioredis's repository and the npm registry.
#
#   tools/ioredis-suite.sh <ioredis git dir | ioredis checkout>
#   IOREDIS_SRC=/work/.mirror/redis+ioredis/repo tools/ioredis-suite.sh
#
# Environment:
#   IOREDIS_SRC       the git directory (bare is fine) or checkout, when not given as argument
#   IOREDIS_REV       the tag or commit taken from a git directory (v6.0.0)
#   KEYWARDEN_BIN     the binary under test (build-rel/keywarden)
#   IOREDIS_WORK_DIR  where the suite is extracted and installed, logs and results
#                     (/tmp/ioredis-suite); the npm install is reused while the source is the same
#   IOREDIS_RUNS      which runs, in order ("direct keywarden")
#   IOREDIS_REPEAT    how many times each (1): some of the suite's tests depend on timing and
#                     fail now and then, direct too; the summary says in how many runs each failed
#   IOREDIS_SPECS     spec files or globs relative to the checkout, to run a part of the suite
#                     (default: those of package.json's test:js)
#   IOREDIS_NETNS     auto (default): a private network namespace when root; off: the host's
#   IOREDIS_BACKEND_MONITOR  1: record redis-cli MONITOR of the backend during the keywarden run
#                     (keywarden-<n>/backend-monitor.log), to see what keywarden sent meanwhile
#
# Why a network namespace: the suite has no setting for the Redis address. Its clients use
# ioredis's default 127.0.0.1:6379 and several tests hard-code 6379 (raw sockets, sentinel mocks
# answering 127.0.0.1:6379, assertions on the port), so whatever is tested must listen on 6379.
# In a private network namespace (`unshare -n`, needs root) that port is ours, whatever runs on
# the host; without one, the script checks that 6379 is free and stops otherwise. The suite's own
# mock servers (17379-17383, 26379, 27379-27382, 30000-30010) live in the same namespace.
#
# Nothing is excluded. Test files that never connect to 127.0.0.1:6379 (ioredis's unit tests; the
# cluster and several connection tests, which drive ioredis against the suite's in-process mock
# servers) run too, but keywarden cannot change their outcome: the summary counts them apart, as
# measured (a hook in the reporter records every connection made to 6379 and the file whose test
# or hook made it). The root afterEach of test/helpers/global.ts (FLUSHALL, SCRIPT FLUSH, CLIENT
# KILL normal after every test) always goes through keywarden; its failures count with the files
# that reach keywarden. test:cluster (a real Redis Cluster in docker) and test:tsd (type checks)
# are not run: the first needs docker, the second never connects.
#
# Output: $IOREDIS_WORK_DIR/<direct|keywarden>-<n>/{mocha.log,results.json,keywarden.log,redis/}
# and summary.txt.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/tools/lib.sh"

work=${IOREDIS_WORK_DIR:-${TMPDIR:-/tmp}/ioredis-suite}
kw_bin=${KEYWARDEN_BIN:-$root/build-rel/keywarden}
redis_port_of_suite=6379
# package.json's "test:js": mocha with ts-node, these globs, its "mocha" settings (timeout 8000,
# exit) and these two variables.
default_specs=("test/helpers/*.ts" "test/unit/**/*.ts" "test/functional/**/*.ts")

die() {
  echo "ioredis-suite: $*" >&2
  exit 1
}

# ---- inside the (optional) network namespace: one run ----------------------------------------

stop_run() {
  kw_stop_pidfile "$run_out/monitor.pid"
  kw_stop_pidfile "$run_out/keywarden.pid"
  kw_stop_pidfile "$run_out/redis/redis.pid"
}

# run_inner MODE N: starts the servers of MODE (direct | keywarden), runs mocha, stops them.
run_inner() {
  local mode=$1 out=$work/$1-$2 src=$work/src rc=0
  if [[ ${IOREDIS_IN_NETNS:-0} == 1 ]]; then
    ip link set lo up
  fi
  if kw_port_busy "$redis_port_of_suite"; then
    die "127.0.0.1:$redis_port_of_suite is in use. ioredis's suite can only reach Redis there; \
stop what listens on it, or run as root so that the suite gets a network namespace of its own"
  fi
  rm -rf "$out"
  mkdir -p "$out"
  run_out=$out
  trap stop_run EXIT

  local upstream_port=$redis_port_of_suite
  if [[ $mode == keywarden ]]; then
    upstream_port=$(kw_free_port)
  fi
  kw_start_redis "$out/redis" "$upstream_port" || die "redis-server did not start ($out/redis)"
  if [[ $mode == keywarden ]]; then
    local metrics_port
    metrics_port=$(kw_free_port)
    # No config file: keywarden reads conf/keywarden.toml of its working directory when there
    # is one, so it starts in $out, where there is none.
    (cd "$out" && exec "$kw_bin" --listen "127.0.0.1:$redis_port_of_suite" \
      --upstream "127.0.0.1:$upstream_port" --metrics-listen "127.0.0.1:$metrics_port" \
      --workers 1 >"$out/keywarden.log" 2>&1) &
    echo $! >"$out/keywarden.pid"
    kw_wait_pong "$redis_port_of_suite" 10 "$(<"$out/keywarden.pid")" ||
      die "keywarden did not answer on $redis_port_of_suite (see $out/keywarden.log)"
    if [[ ${IOREDIS_BACKEND_MONITOR:-0} == 1 ]]; then
      # Everything Redis runs, keywarden's own commands included, with the client's address.
      redis-cli -p "$upstream_port" MONITOR >"$out/backend-monitor.log" 2>&1 &
      echo $! >"$out/monitor.pid"
    fi
  fi

  local specs=("${default_specs[@]}")
  if [[ -n ${IOREDIS_SPECS:-} ]]; then
    read -r -a specs <<<"$IOREDIS_SPECS"
  fi
  echo "ioredis-suite: $mode run: mocha ${specs[*]} (log: $out/mocha.log)"
  (cd "$src" && TS_NODE_TRANSPILE_ONLY=true NODE_ENV=test KW_RESULTS="$out/results.json" \
    KW_SUITE_PORT=$redis_port_of_suite nice -n 10 node_modules/.bin/mocha \
    --no-experimental-strip-types --reporter "$work/reporter.js" "${specs[@]}" \
    >"$out/mocha.log" 2>&1) || rc=$?
  echo "mocha exit status $rc" >"$out/mocha.status"

  if [[ $mode == keywarden ]] && ! kill -0 "$(<"$out/keywarden.pid")" 2>/dev/null; then
    echo "keywarden exited during the run (see $out/keywarden.log)" >"$out/crashed"
  fi
  [[ -s $out/results.json ]] || die "$mode run: mocha wrote no results (see $out/mocha.log)"
}

if [[ ${1:-} == --inner ]]; then
  run_inner "$2" "$3"
  exit 0
fi

# ---- outside: get the suite, install it, run, compare ----------------------------------------

src_arg=${1:-${IOREDIS_SRC:-}}
rev=${IOREDIS_REV:-v6.0.0}
[[ -n $src_arg ]] || die "usage: $0 <ioredis git dir | ioredis checkout> (or IOREDIS_SRC=...)"
[[ -x $kw_bin ]] || die "no keywarden binary at $kw_bin (build it, or set KEYWARDEN_BIN)"
command -v redis-server >/dev/null || die "redis-server is not installed"
command -v npm >/dev/null || die "npm is not installed"
redis_version=$(redis-server --version | sed -n 's/.* v=\([^ ]*\).*/\1/p')
if [[ $redis_version != 7.0.15 ]]; then
  echo "ioredis-suite: note: redis-server is $redis_version; the figures in README.md are 7.0.15's"
fi

mkdir -p "$work"
src=$work/src

# The source's identity: the commit for a git directory, the path for a checkout (copied afresh).
if [[ -f $src_arg/package.json ]]; then
  identity="checkout $(cd "$src_arg" && pwd)"
elif commit=$(git --git-dir="$src_arg" rev-parse --verify -q "$rev^{commit}"); then
  identity="git $commit"
else
  die "$src_arg is neither an ioredis checkout nor a git directory holding $rev"
fi

if [[ ! -f $src/.kw-source || $(<"$src/.kw-source") != "$identity" || ! -d $src/node_modules ||
  $identity == checkout* ]]; then
  rm -rf "$src"
  mkdir -p "$src"
  if [[ $identity == checkout* ]]; then
    tar -C "$src_arg" --exclude=./node_modules --exclude=./.git -cf - . | tar -C "$src" -xf -
  else
    # docs/ is generated HTML, not needed to test; some mirrors lack its largest files.
    git --git-dir="$src_arg" archive "$commit" -- . ':(exclude)docs' 2>"$work/archive.err" |
      tar -x -C "$src" || die "git archive of $rev failed (see $work/archive.err)"
  fi
  [[ -f $src/package.json && -d $src/test/functional ]] || die "$src is not an ioredis source tree"
  echo "ioredis-suite: npm ci in $src (install scripts disabled: the suite needs none)"
  npm_flags=(--no-audit --no-fund --ignore-scripts)
  if ! (cd "$src" && nice -n 10 npm ci "${npm_flags[@]}" >"$work/npm.log" 2>&1); then
    echo "ioredis-suite: npm ci failed, trying npm install (see $work/npm.log)"
    (cd "$src" && nice -n 10 npm install "${npm_flags[@]}" >>"$work/npm.log" 2>&1) ||
      die "npm install failed (see $work/npm.log)"
  fi
  echo "$identity" >"$src/.kw-source"
fi
version=$(node -p 'require(process.argv[1]).version' "$src/package.json")

# Mocha reporter: spec output, plus every outcome and every connection to the suite's Redis port
# (by the file of the test or hook running at that moment) in $KW_RESULTS.
cat >"$work/reporter.js" <<'EOF'
const path = require("path");
const Mocha = require(require.resolve("mocha", { paths: [process.cwd()] }));
const net = require("net");
const fs = require("fs");

const suitePort = Number(process.env.KW_SUITE_PORT);
const relative = (file) => (file ? path.relative(process.cwd(), file) : "");
const fileOf = (runnable) =>
  relative(runnable.file || (runnable.parent && runnable.parent.file)) || "(root hook)";
const isRootHook = (runnable) =>
  runnable.type === "hook" && !!runnable.parent && !!runnable.parent.root;
// A root hook (test/helpers/global.ts, after every test) is the suite's, not the file's.
const owner = (runnable) =>
  !runnable ? "(between tests)" : isRootHook(runnable) ? "(root hooks)" : fileOf(runnable);

class Recorder extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const outcomes = [];
    const connections = {};
    let current = null;

    const connect = net.Socket.prototype.connect;
    // socket.connect(options | [options, cb] | port, host): whoever connects to the suite's port.
    net.Socket.prototype.connect = function (...args) {
      const first = Array.isArray(args[0]) ? args[0][0] : args[0];
      const options = first && typeof first === "object" ? first : { port: first, host: args[1] };
      const host = typeof options.host === "string" ? options.host : "localhost";
      if (Number(options.port) === suitePort && ["localhost", "127.0.0.1", "::1"].includes(host)) {
        connections[owner(current)] = (connections[owner(current)] || 0) + 1;
      }
      return connect.apply(this, args);
    };

    runner.on("test", (t) => (current = t));
    runner.on("hook", (h) => (current = h));
    const record = (state) => (t, err) =>
      outcomes.push({
        state,
        type: t.type,
        title: t.fullTitle(),
        file: fileOf(t),
        rootHook: isRootHook(t),
        error: err ? String(err.message || err).slice(0, 1000) : undefined,
      });
    runner.on("pass", record("passed"));
    runner.on("fail", record("failed"));
    runner.on("pending", record("pending"));
    runner.once("end", () => {
      const json = JSON.stringify({ outcomes, connections }, null, 1);
      fs.writeFileSync(process.env.KW_RESULTS, json);
    });
  }
}
module.exports = Recorder;
EOF

# Summary: totals per run; files split by whether they reached the Redis address; per test, in
# how many runs of each mode it failed.
cat >"$work/summarize.js" <<'EOF'
const fs = require("fs");
const [work, version, ...runs] = process.argv.slice(2); // runs: "direct-1", "keywarden-1", ...
const modeOf = (run) => run.replace(/-\d+$/, "");
const results = {};
for (const run of runs) results[run] = JSON.parse(fs.readFileSync(`${work}/${run}/results.json`));

// A file reaches Redis when one of its tests or hooks connected to the suite's port in any run.
const reaching = new Set();
for (const run of runs)
  for (const file of Object.keys(results[run].connections))
    if (!file.startsWith("(")) reaching.add(file);
const reaches = (o) => o.rootHook || reaching.has(o.file);

const lines = [];
const say = (s = "") => lines.push(s);
const count = (list, state) => list.filter((o) => o.state === state).length;
const figures = (list) =>
  `${count(list, "passed")} passed, ${count(list, "failed")} failed` +
  ` (${count(list, "pending")} pending)`;
// Mocha stops the whole suite when a root hook fails: what did not run is counted, not hidden.
// (A test that calls done() twice has two outcomes: tests are counted by file and title.)
const testsRun = (run) =>
  new Set(results[run].outcomes.filter((o) => o.type === "test").map((o) => o.file + o.title)).size;
const mostRun = Math.max(...runs.map(testsRun));

const indent = " ".repeat(14);
say(`ioredis ${version} test:js (mocha), redis-server as backend`);
for (const run of runs) {
  const all = results[run].outcomes;
  say(`${run.padEnd(13)} ${figures(all)}`);
  say(`${indent}files reaching 127.0.0.1:6379: ${figures(all.filter(reaches))}`);
  say(`${indent}files that never reach it:     ${figures(all.filter((o) => !reaches(o)))}`);
  if (testsRun(run) < mostRun)
    say(`${indent}${mostRun - testsRun(run)} test(s) not run: a root hook failed, mocha stopped`);
  const crashed = `${work}/${run}/crashed`;
  if (fs.existsSync(crashed)) say(`${indent}${fs.readFileSync(crashed, "utf8").trim()}`);
}
say("'pending': skipped by the suite itself (commands of Redis versions above the backend's).");

const files = new Set(Object.values(results).flatMap((r) => r.outcomes.map((o) => o.file)));
const apart = [...files]
  .filter((f) => f && !f.startsWith("(") && !reaching.has(f) && !f.startsWith("test/helpers/"))
  .sort();
say();
say(`Files that never connect to 127.0.0.1:6379 (${apart.length}; unit tests, and tests of ` +
    "ioredis against the suite's in-process mock servers, which a proxy cannot change):");
let line = " ";
for (const f of apart) {
  if (line.length + f.length > 99) {
    say(line);
    line = " ";
  }
  line += " " + f;
}
say(line);

// Failures per test (file and title) and mode, with the first error seen in each mode.
const modes = [...new Set(runs.map(modeOf))];
const runsOf = (mode) => runs.filter((r) => modeOf(r) === mode).length;
const failures = new Map();
for (const run of runs) {
  const seen = new Set();
  for (const o of results[run].outcomes) {
    const key = `${o.file}: ${o.title}`;
    if (o.state !== "failed" || seen.has(key)) continue;
    seen.add(key);
    if (!failures.has(key)) failures.set(key, { counts: {}, errors: {} });
    const f = failures.get(key);
    const mode = modeOf(run);
    f.counts[mode] = (f.counts[mode] || 0) + 1;
    f.errors[mode] = f.errors[mode] || (o.error || "").split("\n")[0];
  }
}
const tally = (f) => modes.map((m) => `${m} ${f.counts[m] || 0}/${runsOf(m)}`).join(", ");
const show = (key, f) => {
  say(`  ${key}`);
  say(`      failed in: ${tally(f)}`);
  for (const m of modes) if (f.errors[m]) say(`      ${m}: ${f.errors[m]}`);
};
const compared = modes.includes("direct") && modes.includes("keywarden");
const groups = compared
  ? [
      ["Fail through keywarden, pass direct", (f) => f.counts.keywarden && !f.counts.direct],
      ["Fail both ways", (f) => f.counts.keywarden && f.counts.direct],
      ["Fail direct only (timing-dependent or flaky)", (f) => !f.counts.keywarden],
    ]
  : [["Failures", () => true]];
for (const [title, pick] of groups) {
  const chosen = [...failures].filter(([, f]) => pick(f)).sort();
  say();
  say(`${title} (${chosen.length}):`);
  chosen.forEach(([key, f]) => show(key, f));
}
console.log(lines.join("\n"));
EOF

isolate=()
if [[ ${IOREDIS_NETNS:-auto} != off && $(id -u) == 0 ]] && unshare -n true 2>/dev/null; then
  isolate=(unshare -n env IOREDIS_IN_NETNS=1)
elif kw_port_busy "$redis_port_of_suite"; then
  die "127.0.0.1:$redis_port_of_suite is in use, and ioredis's suite can only reach Redis there \
(no private network namespace: not root, or unshare -n refused). Stop what listens on it first."
fi

read -r -a modes <<<"${IOREDIS_RUNS:-direct keywarden}"
repeat=${IOREDIS_REPEAT:-1}
[[ $repeat =~ ^[1-9][0-9]*$ ]] || die "IOREDIS_REPEAT must be a positive number"
run_list=()
for ((i = 1; i <= repeat; i++)); do
  for mode in "${modes[@]}"; do
    [[ $mode == direct || $mode == keywarden ]] || die "unknown run '$mode' (direct, keywarden)"
    IOREDIS_WORK_DIR=$work KEYWARDEN_BIN=$kw_bin "${isolate[@]}" "$0" --inner "$mode" "$i"
    run_list+=("$mode-$i")
  done
done

node "$work/summarize.js" "$work" "$version" "${run_list[@]}" | tee "$work/summary.txt"
