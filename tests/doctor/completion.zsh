# completion.zsh MCP_JAIL COMPLETION_SCRIPT   (run with zsh -f)
# The generated zsh completion function, called with `words` and `CURRENT`
# set as zsh's completion system sets them, and compadd/_files/_normal
# replaced by stubs that print what would be offered.
bin=$1
script=$2
integer fails=0 passes=0
compadd() { [[ $1 == -- ]] && shift; print -l -- "$@"; }
_files() { print -- "<files $*>"; }
_normal() { print -- "<normal ${words[*]} CURRENT=$CURRENT>"; }
# The script ends by calling the function; load the function only.
eval "$(sed '$d' $script)" || { print "FAIL: cannot load $script"; exit 1 }
offered() { words=("$@"); CURRENT=${#words}; PREFIX=${words[CURRENT]}; _mcp_jail | sort }
expect() {  # expect WHAT EXPECTED ACTUAL
  if [[ $2 == $3 ]]; then (( passes++ )); else print "FAIL: $1\n  expected: ${(f)2}\n  got:      ${(f)3}"; (( fails++ )); fi
}
profiles=$($bin profiles | awk '{print $1}' | sort)
cmds=$($bin --help | sed -n 's/^  mcp-jail \([a-z]*\).*/\1/p' | sort -u)

expect "mcp-jail <TAB>" "$(print -l -- $=cmds --help --version | sort)" "$(offered mcp-jail '')"
expect "mcp-jail run <TAB>" "$(print -l -- '<files -g *.toml>' $=profiles | sort)" "$(offered mcp-jail run '')"
expect "mcp-jail run --<TAB>" "$(print -l -- --var --read --write --env --audit-log | sort)" "$(offered mcp-jail run --)"
expect "mcp-jail doctor --<TAB>" "$(print -l -- --json --var --write | sort)" "$(offered mcp-jail doctor --)"
expect "mcp-jail run base --write <TAB>" "<files >" "$(offered mcp-jail run base --write '')"
expect "mcp-jail run base <TAB> (one profile only)" "" "$(offered mcp-jail run base '')"
expect "mcp-jail run base -- ba<TAB>" "<normal ba CURRENT=1>" "$(offered mcp-jail run base -- ba)"
# The server's command with or without --: from it on, nothing of mcp-jail's.
expect "mcp-jail run base ba<TAB>" "<normal ba CURRENT=1>" "$(offered mcp-jail run base ba)"
expect "mcp-jail run --var K=V base node --wr<TAB>" "<normal node --wr CURRENT=2>" "$(offered mcp-jail run --var K=V base node --wr)"
expect "mcp-jail export <TAB>" "$(print -l -- k8s oci)" "$(offered mcp-jail export '')"
expect "mcp-jail export oci <TAB>" "$(print -l -- '<files -g *.toml>' $=profiles | sort)" "$(offered mcp-jail export oci '')"
expect "mcp-jail export oci base <TAB>" "" "$(offered mcp-jail export oci base '')"
expect "mcp-jail export oci base -o <TAB>" "<files >" "$(offered mcp-jail export oci base -o '')"
expect "mcp-jail export oci base -o D node --im<TAB>" "<normal node --im CURRENT=2>" "$(offered mcp-jail export oci base -o D node --im)"
expect "mcp-jail export --<TAB>" "$(print -l -- --var --read --write --env --output --image --name --replicas | sort)" "$(offered mcp-jail export --)"
expect "mcp-jail doctor base ba<TAB>" "" "$(offered mcp-jail doctor base ba)"
print "$passes passed, $fails failed"
(( fails == 0 ))
