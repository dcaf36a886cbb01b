# shellcheck shell=bash
# Sourced by the hyperfine benchmarks (launch.sh, protect.sh, pin.sh): strict
# mode, and the repository root as the working directory. Then
# bench_setup APT_PACKAGE:TOOL... checks that each
# TOOL is installed (naming APT_PACKAGE when it is not) and that mcp-jail is
# built, then sets $jail (build/mcp-jail), makes bench/results and a scratch
# directory $work (WORK_TEMPLATE for mktemp, when given) removed on exit.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bench_setup() {
  local template="" need pkgs=()
  if [[ "${1:-}" == --work=* ]]; then template="${1#--work=}"; shift; fi
  for need in "$@"; do pkgs+=("${need%%:*}"); done
  for need in "$@"; do
    command -v "${need#*:}" >/dev/null || {
      echo "bench: ${need#*:} missing (apt-get install ${pkgs[*]})" >&2
      exit 1
    }
  done
  jail="$PWD/build/mcp-jail"
  [[ -x "$jail" ]] || { echo "bench: build mcp-jail first" >&2; exit 1; }
  mkdir -p bench/results
  if [[ -n "$template" ]]; then work="$(mktemp -d "$template")"; else work="$(mktemp -d)"; fi
  trap 'rm -rf "$work"' EXIT
}
