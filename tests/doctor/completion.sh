#!/bin/bash
# completion.sh MCP_JAIL COMPLETION_SCRIPT
# Loads the generated bash completion and asks it what TAB offers, the way
# bash does (COMP_WORDS, COMP_CWORD, then the function `complete` names),
# against what the binary itself says: its subcommands in --help, its
# built-in profiles in `mcp-jail profiles`.
set -uo pipefail
bin=$1
script=$2
fails=0 passes=0

# shellcheck source=/dev/null
source "$script" || { echo "FAIL: cannot source $script"; exit 1; }
func=$(complete -p mcp-jail | sed -n 's/.*-F \([^ ]*\) mcp-jail$/\1/p')
[[ -n $func ]] || { echo "FAIL: $script registers no completion function for mcp-jail"; exit 1; }

# complete WORD... : the words of the line, the last one being completed.
complete_line() {
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMP_LINE="${COMP_WORDS[*]}"
  COMP_POINT=${#COMP_LINE}
  COMPREPLY=()
  "$func" mcp-jail "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
  printf '%s\n' "${COMPREPLY[@]}" | sort
}

expect() {  # expect WHAT EXPECTED ACTUAL
  if [[ $2 == "$3" ]]; then
    passes=$((passes + 1))
  else
    echo "FAIL: $1"
    echo "  expected: $(echo "$2" | tr '\n' ' ')"
    echo "  got:      $(echo "$3" | tr '\n' ' ')"
    fails=$((fails + 1))
  fi
}

contains() {  # contains WHAT WORD ACTUAL
  if grep -qxF -- "$2" <<<"$3"; then passes=$((passes + 1)); else echo "FAIL: $1: no '$2' in: $(echo "$3" | tr '\n' ' ')"; fails=$((fails + 1)); fi
}

help=$("$bin" --help)
profiles=$("$bin" profiles | awk '{print $1}' | sort)
[[ -n $profiles ]] || { echo "FAIL: mcp-jail profiles listed nothing"; exit 1; }

# mcp-jail <TAB>: every subcommand of --help, and the global options.
got=$(complete_line mcp-jail "")
for cmd in $(sed -n 's/^  mcp-jail \([a-z]*\).*/\1/p' <<<"$help" | sort -u); do
  contains "mcp-jail <TAB> offers the subcommand" "$cmd" "$got"
done
contains "mcp-jail <TAB>" --help "$got"
contains "mcp-jail <TAB>" --version "$got"
expect "mcp-jail r<TAB>" "run" "$(complete_line mcp-jail r)"
expect "mcp-jail --<TAB>" "$(printf -- '--help\n--version')" "$(complete_line mcp-jail --)"

# mcp-jail run <TAB>: the built-in profiles, exactly.
expect "mcp-jail run <TAB>" "$profiles" "$(complete_line mcp-jail run "")"
expect "mcp-jail check <TAB>" "$profiles" "$(complete_line mcp-jail check "")"
expect "mcp-jail doctor <TAB>" "$profiles" "$(complete_line mcp-jail doctor "")"
expect "mcp-jail run --var K=V <TAB> (a value is not a profile)" "$profiles" "$(complete_line mcp-jail run --var K=V "")"
expect "mcp-jail run b<TAB>" "$(grep '^b' <<<"$profiles")" "$(complete_line mcp-jail run b)"
expect "mcp-jail run base <TAB> (one profile only)" "" "$(complete_line mcp-jail run base "")"
expect "mcp-jail wrap --profile <TAB>" "$profiles" "$(complete_line mcp-jail wrap --profile "")"

# mcp-jail run --<TAB>: run's options, each of them in run's line of --help.
run_opts=$(complete_line mcp-jail run --)
run_help=$(grep '^  mcp-jail run ' <<<"$help")
[[ -n $run_opts ]] || { echo "FAIL: mcp-jail run --<TAB> offered nothing"; fails=$((fails + 1)); }
for o in $run_opts; do
  if [[ $run_help == *"[$o"* ]]; then passes=$((passes + 1)); else echo "FAIL: run --<TAB> offers $o, which run's --help line lacks"; fails=$((fails + 1)); fi
done
for o in --var --read --write --env --audit-log; do contains "mcp-jail run --<TAB>" "$o" "$run_opts"; done
expect "mcp-jail run base --au<TAB>" "--audit-log" "$(complete_line mcp-jail run base --au)"
expect "mcp-jail doctor --<TAB>" "$(printf -- '--json\n--var\n--write')" "$(complete_line mcp-jail doctor --)"
# Every subcommand's options appear in its --help line.
for cmd in run check probe pin wrap doctor; do
  line=$(grep "^  mcp-jail $cmd " <<<"$help")
  for o in $(complete_line mcp-jail "$cmd" --); do
    if [[ $line == *"$o"* ]]; then passes=$((passes + 1)); else echo "FAIL: $cmd --<TAB> offers $o, not in: $line"; fails=$((fails + 1)); fi
  done
done

# Paths where paths belong, and the server's own command after --.
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
touch "$dir/profile.toml" "$dir/workspace-file"
expect "mcp-jail run base --write DIR/w<TAB>" "$dir/workspace-file" "$(complete_line mcp-jail run base --write "$dir/w")"
expect "mcp-jail run DIR/p<TAB> (a profile path)" "$dir/profile.toml" "$(complete_line mcp-jail run "$dir/p")"
contains "mcp-jail run base -- <TAB> offers commands" bash "$(complete_line mcp-jail run base -- ba)"
expect "mcp-jail run base -- bash DIR/w<TAB>" "$dir/workspace-file" "$(complete_line mcp-jail run base -- bash "$dir/w")"

# The server's command starts at the first word after PROFILE that is not an
# option of mcp-jail, with or without --: from there on nothing of mcp-jail's.
contains "mcp-jail run base ba<TAB> offers commands" bash "$(complete_line mcp-jail run base ba)"
contains "mcp-jail run --var K=V base ba<TAB> offers commands" bash "$(complete_line mcp-jail run --var K=V base ba)"
expect "mcp-jail run base bash DIR/w<TAB>" "$dir/workspace-file" "$(complete_line mcp-jail run base bash "$dir/w")"
expect "mcp-jail run base node --wr<TAB> (the server's option)" "" "$(complete_line mcp-jail run base node --wr)"
expect "mcp-jail check base node --au<TAB> (the server's option)" "" "$(complete_line mcp-jail check base node --au)"
expect "mcp-jail run base node -- --au<TAB>" "" "$(complete_line mcp-jail run base node -- --au)"
expect "mcp-jail run base --write DIR/w<TAB> still mcp-jail's" "$dir/workspace-file" "$(complete_line mcp-jail run base --write "$dir/w")"
expect "mcp-jail pin base --pr<TAB>" "--print" "$(complete_line mcp-jail pin base --pr)"

# export oci|k8s PROFILE: the format, then a profile, then the server's command.
expect "mcp-jail export <TAB>" "$(printf 'k8s\noci')" "$(complete_line mcp-jail export "")"
expect "mcp-jail export oci <TAB>" "$profiles" "$(complete_line mcp-jail export oci "")"
expect "mcp-jail export k8s --image I <TAB>" "$profiles" "$(complete_line mcp-jail export k8s --image I "")"
expect "mcp-jail export oci base <TAB> (no third operand)" "" "$(complete_line mcp-jail export oci base "")"
expect "mcp-jail export oci base --im<TAB>" "--image" "$(complete_line mcp-jail export oci base --im)"
expect "mcp-jail export oci base -o DIR/w<TAB>" "$dir/workspace-file" "$(complete_line mcp-jail export oci base -o "$dir/w")"
contains "mcp-jail export oci base -o D ba<TAB> offers commands" bash "$(complete_line mcp-jail export oci base -o D ba)"
expect "mcp-jail export oci base -o D node --im<TAB> (the server's option)" "" "$(complete_line mcp-jail export oci base -o D node --im)"
export_help=$("$bin" export --help)
for o in $(complete_line mcp-jail export --); do
  if [[ $export_help == *"$o "* ]]; then passes=$((passes + 1)); else echo "FAIL: export --<TAB> offers $o, not in export --help"; fails=$((fails + 1)); fi
done
for o in --var --read --write --env --output --image --name --replicas; do contains "mcp-jail export --<TAB>" "$o" "$(complete_line mcp-jail export --)"; done
expect "mcp-jail doctor base <TAB> (no server command)" "" "$(complete_line mcp-jail doctor base ba)"
# completion is not a command of the usage, and not offered.
got=$(complete_line mcp-jail co)
if grep -qx completion <<<"$got"; then echo "FAIL: mcp-jail co<TAB> offers the hidden completion"; fails=$((fails + 1)); else passes=$((passes + 1)); fi

echo "$passes passed, $fails failed"
((fails == 0))
