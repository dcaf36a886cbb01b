#!/bin/bash
# package.sh BUILD_DIR BUILD_TYPE
# Builds the .deb from BUILD_DIR (cpack -G DEB), checks what it holds, installs
# it with dpkg, runs `mcp-jail doctor` and a jail from the installed files (as
# root and as the unprivileged test user), then `dpkg -r` (only the conffile
# may stay) and `dpkg --purge` (nothing may stay: every path the package
# brought that did not exist before is gone). Leaves the host as it found it,
# on failure too. Exit 77 (skipped) without root or dpkg, or when an mcp-jail
# is installed already (it is not ours to replace).
set -uo pipefail
build=$1
build_type=$2
pkg=mcp-jail
test_user=mcpjail-test
fails=0 passes=0
ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
check() { local what=$1; shift; if "$@"; then ok; else fail "$what"; fi; }

[[ $(id -u) == 0 ]] || { echo "SKIP: the package test installs a .deb: it needs root"; exit 77; }
command -v dpkg >/dev/null && command -v cpack >/dev/null || { echo "SKIP: needs dpkg and cpack"; exit 77; }
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
  echo "SKIP: a package $pkg is installed already"; exit 77
fi
for p in /usr/bin/mcp-jail /etc/apparmor.d/mcp-jail; do
  [[ -e $p ]] && { echo "SKIP: $p exists and is not ours to replace"; exit 77; }
done

work=$(mktemp -d /tmp/mcpjail-pkg-XXXXXX)
chmod 0755 "$work"
installed=0
cleanup() {
  if ((installed)); then dpkg --purge "$pkg" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# -- build
start=$(date +%s)
if ! (cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work/out" >"$work/cpack.log" 2>&1); then
  cat "$work/cpack.log"; echo "FAIL: cpack -G DEB"; exit 1
fi
deb=$(ls "$work"/out/*.deb 2>/dev/null | head -n 1)
[[ -f $deb ]] || { cat "$work/cpack.log"; echo "FAIL: cpack made no .deb"; exit 1; }
echo "built $(basename "$deb") in $(($(date +%s) - start)) s"

# -- contents
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|; s|/$||' | grep -v '^/$' | sort >"$work/contents"
for f in /usr/bin/mcp-jail /usr/share/man/man1/mcp-jail.1 /usr/share/man/man5/mcp-jail-profile.5 \
  /usr/share/bash-completion/completions/mcp-jail /usr/share/zsh/vendor-completions/_mcp-jail \
  /etc/apparmor.d/mcp-jail; do
  check "the package holds $f" grep -qxF "$f" "$work/contents"
done
for name in $("$build/mcp-jail" profiles | awk '{print $1}'); do
  check "the package holds the built-in profile $name" grep -qxF "/usr/share/mcp-jail/profiles/$name.toml" "$work/contents"
done
desc=$(dpkg-deb -f "$deb" Description)
check "the package says its build type ($build_type)" grep -qF "CMAKE_BUILD_TYPE=$build_type" <<<"$desc"
check "the conffile is the AppArmor profile" test "$(dpkg-deb -I "$deb" conffiles)" = /etc/apparmor.d/mcp-jail
aa=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO ./etc/apparmor.d/mcp-jail)
check "the AppArmor profile attaches to /usr/bin/mcp-jail and allows userns" \
  grep -qE '^profile mcp-jail /usr/bin/mcp-jail flags=\(unconfined\) \{' <<<"$aa"
check "the AppArmor profile has the userns rule" grep -qE '^  userns,$' <<<"$aa"

# cmake --install lays out the same files (into a staging directory here).
if DESTDIR="$work/inst" cmake --install "$build" --prefix /usr >"$work/install.log" 2>&1; then
  check "cmake --install --prefix /usr installs what the package holds" \
    diff <(cd "$work/inst" && find . -mindepth 1 | sed 's|^\.||' | sort) "$work/contents"
else
  cat "$work/install.log"; fail "cmake --install"
fi

# What exists before: what the package brings must be gone after --purge
# unless it was there before (shared directories like /usr/share/man).
while read -r p; do [[ -e $p || -L $p ]] && echo "$p"; done <"$work/contents" >"$work/before"

# -- install and use
if ! dpkg -i "$deb" >"$work/dpkg-i.log" 2>&1; then cat "$work/dpkg-i.log"; echo "FAIL: dpkg -i"; exit 1; fi
installed=1
check "dpkg -L lists what the .deb holds" diff <(dpkg -L "$pkg" | grep -v '^/\.$' | sort) "$work/contents"
check "/usr/bin/mcp-jail runs" /usr/bin/mcp-jail --version
out=$(cd / && /usr/bin/mcp-jail doctor 2>&1); rc=$?
echo "$out" | sed 's/^/  root: /'
check "mcp-jail doctor (root) from the installed files exits 0" test "$rc" = 0
# The uid from /proc (the jail may execute only its command: no id(1)).
out=$(cd / && /usr/bin/mcp-jail run base --audit-log none -- /bin/sh -c \
  'while read -r k v rest; do if [ "$k" = Uid: ]; then echo "jailed as $v"; fi; done </proc/self/status' 2>&1); rc=$?
check "mcp-jail run base (root) from the installed files: $out" test "$rc" = 0
check "the jail ran its command as an unprivileged uid" grep -qx 'jailed as 65534' <<<"$out"
if id "$test_user" >/dev/null 2>&1; then
  as_user=(/usr/bin/setpriv --reuid="$(id -u "$test_user")" --regid="$(id -g "$test_user")" --clear-groups --)
  out=$(cd / && env -i PATH=/usr/bin:/bin HOME=/ "${as_user[@]}" /usr/bin/mcp-jail doctor 2>&1); rc=$?
  echo "$out" | sed 's/^/  rootless: /'
  check "mcp-jail doctor (rootless) from the installed files exits 0" test "$rc" = 0
  out=$(cd / && env -i PATH=/usr/bin:/bin HOME=/ "${as_user[@]}" /usr/bin/mcp-jail run base -- /bin/true 2>&1); rc=$?
  check "mcp-jail run base (rootless) from the installed files: $out" test "$rc" = 0
else
  echo "note: no user $test_user (the integration tests create it): rootless part not run"
fi
check "the completion is installed where bash-completion looks" \
  bash -c 'source /usr/share/bash-completion/completions/mcp-jail && complete -p mcp-jail'

# -- remove: only the conffile stays; purge: nothing stays
dpkg -r "$pkg" >"$work/dpkg-r.log" 2>&1 || { cat "$work/dpkg-r.log"; fail "dpkg -r"; }
while read -r p; do
  grep -qxF "$p" "$work/before" && continue
  [[ $p == /etc/apparmor.d/mcp-jail ]] && { check "dpkg -r keeps the conffile $p" test -e "$p"; continue; }
  [[ $p == /etc || $p == /etc/apparmor.d ]] && continue  # they hold the conffile until --purge
  check "dpkg -r removed $p" test ! -e "$p"
done <"$work/contents"
dpkg --purge "$pkg" >"$work/dpkg-purge.log" 2>&1 || { cat "$work/dpkg-purge.log"; fail "dpkg --purge"; }
installed=0
left=()
while read -r p; do
  grep -qxF "$p" "$work/before" && continue
  [[ -e $p || -L $p ]] && left+=("$p")
done <"$work/contents"
check "dpkg --purge leaves nothing behind (left: ${left[*]:-none})" test "${#left[@]}" = 0
check "dpkg no longer knows $pkg" bash -c "! dpkg-query -W -f='\${Status}' $pkg 2>/dev/null | grep -q installed"

echo "$passes passed, $fails failed"
((fails == 0))
