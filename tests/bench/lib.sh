# Shared by the shell benchmarks; source it after setting BENCH (the script's name, for messages).
#   bench_setup [BUILD_DIR]        here, root, build, agent (BUILD_DIR/agent, which must exist)
#   bench_positive VAR...          each a whole number above 0, or die
#   bench_install TOOL[:PACKAGE]... apt-get install what is not on PATH or in /usr/sbin
#   bench_work NAME                 work (a fresh temporary dir), OUT (default: work), PIDS
#                                   (killed -- and continued, if paused -- at exit; work removed
#                                   unless it is OUT), free_port
die() { echo "$BENCH: $*" >&2; exit 1; }
bench_setup() {
  here=$(cd "$(dirname "$0")" && pwd)
  root=$(cd "$here/../.." && pwd)
  build=$(cd "${1:-$root/build}" && pwd)
  agent=$build/agent
  [ -x "$agent" ] || die "no agent at $agent (build it first)"
}
bench_positive() {
  local v
  for v in "$@"; do
    [[ "${!v}" =~ ^[0-9]+$ ]] && [ "${!v}" -gt 0 ] || die "$v must be a positive whole number"
  done
}
bench_install() {
  local pair tool pkg
  for pair in "$@"; do
    tool=${pair%%:*} pkg=${pair#*:}
    command -v "$tool" >/dev/null || [ -x "/usr/sbin/$tool" ] && continue
    echo "$BENCH: installing $pkg (apt-get install $pkg)" >&2
    DEBIAN_FRONTEND=noninteractive timeout 300 apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null ||
      die "apt-get install $pkg failed"
  done
}
bench_work() {
  work=$(mktemp -d "/tmp/weft-$1.XXXXXX")
  OUT=${OUT:-$work}
  mkdir -p "$OUT"
  PIDS=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  # CONT after TERM: a process may be paused (dns_bench's stop_server), and a stopped process
  # takes no signal.
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; kill -CONT "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  [ "$OUT" = "$work" ] || rm -rf "$work"
}
free_port() { python3 "$here/../free_port.py" "$work/.ports"; }
