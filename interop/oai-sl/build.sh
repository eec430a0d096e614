#!/usr/bin/env bash
# Builds OpenAirInterface's NR sidelink UE (EpiSci branch sl-release-1.0, pinned commit) with the
# RF simulator, for sl-bridge's interop tests, into a cache directory outside the clone:
#
#   interop/oai-sl/build.sh [--archives DIR] [--cache DIR] [--jobs N] [--install-deps]
#
# Sources: by default the pinned commits are fetched from upstream with git. --archives DIR (or
# SL_BRIDGE_OAI_ARCHIVES) takes them from local tarballs instead, for machines without network
# access to the upstream hosts:
#   DIR/oai-sl-release-1.0-9c13a74.tar.gz   (top folder openairinterface5g/)
#   DIR/asn1c-9100393b.tar.gz               (top folder asn1c/)
#   DIR/simde-c7f26b7.tar.gz                (top folder simde/)
# The patches in interop/oai-sl/patches/ are applied in name order. Then sl-bridge's PDCP glue
# (interop/oai-sl/glue/), its stack shim (bridge/shims/c/sl_bridge_shim.{c,h}, slb_link.{c,h}) and
# the protoc-c output for proto/bridge.proto are copied to openair2/LAYER2/nr_pdcp/sl_bridge/
# (patch 0002 compiles them in; the glue is off unless SLB_STACK_ENDPOINT is set for nr-uesoftmodem).
#
# Cache: --cache DIR (or SL_BRIDGE_CACHE, default ~/.cache/sl-bridge), in oai-sl/<key>, where the
# key hashes the three pinned commits, every patch, the glue, shim and proto files copied in and
# this script's recipe version. A complete build there is reused at once; a build is assembled in
# a temporary folder and renamed into place only when it succeeded, so an interrupted build leaves
# nothing that looks complete.
#
# Output (last line on stdout): the build directory, holding bin/nr-uesoftmodem and the libraries
# it dlopen()s (run it with LD_LIBRARY_PATH=<dir>/bin), src/openairinterface5g (for the
# NR-SIDELINK config files) and build.json (what was built, from what, how long it took).
#
# Measured on a 2-core Debian 12 guest: asn1c ~35 s, OAI ~15 min idle (~22 min on a busy host);
# 9,677 ninja steps, most of them generated ASN.1 C.
set -euo pipefail

OAI_COMMIT=9c13a74ca01a2d22d63523a482b7083879d9a27b
ASN1C_COMMIT=9100393b1901d10853a340c54eaeb11bf382a6b8
SIMDE_COMMIT=c7f26b73ba8e874b95c2cec2b497826ad2188f68
OAI_URL=https://gitlab.eurecom.fr/oai/openairinterface5g.git
ASN1C_URL=https://github.com/mouse07410/asn1c.git
SIMDE_URL=https://github.com/simd-everywhere/simde-no-tests.git
# Raise when the steps below change in a way that changes the result.
RECIPE_VERSION=2
TARGETS=(nr-uesoftmodem rfsimulator ldpc dfts params_libconfig coding)
DEB_PACKAGES=(build-essential cmake ninja-build pkg-config git xxd autoconf automake libtool bison flex
  libconfig-dev libsctp-dev libblas-dev liblapack-dev liblapacke-dev libssl-dev python3
  libzmq3-dev libprotobuf-c-dev protobuf-c-compiler)

HERE=$(cd "$(dirname "$0")" && pwd)
archives=${SL_BRIDGE_OAI_ARCHIVES:-}
cache=${SL_BRIDGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sl-bridge}
jobs=$(nproc)
install_deps=0

usage() { sed -n '2,29p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --archives) archives=${2:?--archives needs a directory}; shift 2 ;;
    --cache) cache=${2:?--cache needs a directory}; shift 2 ;;
    --jobs) jobs=${2:?--jobs needs a number}; shift 2 ;;
    --install-deps) install_deps=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "oai-sl build: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || { echo "oai-sl build: --jobs: expected a positive integer, got '$jobs'" >&2; exit 2; }

log() { echo "[oai-sl $(date +%H:%M:%S)] $*" >&2; }
fail() { echo "oai-sl build: $*" >&2; exit 1; }

patches=()
while IFS= read -r p; do patches+=("$p"); done < <(find "$HERE/patches" -maxdepth 1 -name '*.patch' | sort)
# Copied into openair2/LAYER2/nr_pdcp/sl_bridge/ after the patches (bridge.proto through protoc-c).
REPO=$(cd "$HERE/../.." && pwd)
PROTO="$REPO/proto/bridge.proto"
glue_files=()
while IFS= read -r f; do glue_files+=("$f"); done < <(find "$HERE/glue" -maxdepth 1 -name '*.[ch]' | sort)
glue_files+=("$REPO/bridge/shims/c/sl_bridge_shim.c" "$REPO/bridge/shims/c/sl_bridge_shim.h"
  "$REPO/bridge/shims/c/slb_link.c" "$REPO/bridge/shims/c/slb_link.h")
for f in "${glue_files[@]}" "$PROTO"; do [ -f "$f" ] || fail "$f is missing"; done
key=$( { echo "oai $OAI_COMMIT asn1c $ASN1C_COMMIT simde $SIMDE_COMMIT recipe $RECIPE_VERSION targets ${TARGETS[*]}";
         for p in "${patches[@]}"; do echo "patch $(basename "$p")"; cat "$p"; done;
         for f in "${glue_files[@]}" "$PROTO"; do echo "file $(basename "$f") $(sha256sum < "$f" | cut -c1-64)"; done; } |
       sha256sum | cut -c1-16)
dest="$cache/oai-sl/$key"
if [ -f "$dest/build.json" ] && [ -x "$dest/bin/nr-uesoftmodem" ]; then
  log "cached build $key"
  echo "$dest"
  exit 0
fi

# --- dependencies --------------------------------------------------------------------------
missing=()
for p in "${DEB_PACKAGES[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$install_deps" = 1 ]; then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null || fail "apt-get install ${missing[*]} failed"
  else
    fail "missing Debian packages: ${missing[*]} (apt-get install them, or run with --install-deps as root)"
  fi
fi

work="$cache/oai-sl/.tmp-$key-$$"
rm -rf "$work"
mkdir -p "$work/src"
trap 'rm -rf "$work"' EXIT
started=$(date +%s)
step() { log "step $1/5: $2"; }
timed() { local s; s=$(date +%s); "$@"; echo $(( $(date +%s) - s )); }

# --- 1. sources ----------------------------------------------------------------------------
fetch_git() { # url commit dir
  git init -q "$3"
  git -C "$3" fetch -q --depth 1 "$1" "$2" || fail "cannot fetch $2 from $1 (no network? use --archives DIR)"
  git -C "$3" -c advice.detachedHead=false checkout -q FETCH_HEAD
}
unpack() { # archive top-folder
  [ -f "$archives/$1" ] || fail "--archives $archives: $1 not found"
  tar -xzf "$archives/$1" -C "$work/src" || fail "cannot unpack $archives/$1"
  [ -d "$work/src/$2" ] || fail "$archives/$1 has no top folder $2/"
}
fetch_sources() {
  if [ -n "$archives" ]; then
    unpack oai-sl-release-1.0-9c13a74.tar.gz openairinterface5g
    unpack asn1c-9100393b.tar.gz asn1c
    unpack simde-c7f26b7.tar.gz simde
  else
    fetch_git "$OAI_URL" "$OAI_COMMIT" "$work/src/openairinterface5g"
    fetch_git "$ASN1C_URL" "$ASN1C_COMMIT" "$work/src/asn1c"
    fetch_git "$SIMDE_URL" "$SIMDE_COMMIT" "$work/src/simde"
  fi
  # Some snapshots of the branch lack this generated lookup table (2.8 MB): the Kronecker powers
  # of F = [[1,0],[1,1]] used by the polar code, G_N_n[i][j] = 1 exactly when (i & j) == j.
  local k="$work/src/openairinterface5g/openair1/PHY/CODING/nrPolar_tools/nr_polar_kronecker_power_matrices.c"
  if [ ! -s "$k" ]; then
    log "regenerating $(basename "$k")"
    python3 - "$k" <<'PY'
import sys
lines = ['/* generated by sl-bridge interop/oai-sl/build.sh: G_N_n[i][j] = ((i & j) == j), n = 1..10 */',
         '#include "PHY/CODING/nrPolar_tools/nr_polar_defs.h"', '']
for n in range(1, 11):
    size = 1 << n
    rows = ['  (uint8_t[]){' + ','.join('1' if (i & j) == j else '0' for j in range(size)) + '}' for i in range(size)]
    lines.append('static const uint8_t(*(G_N_%d[])) = {' % n)
    lines.append(',\n'.join(rows) + '};')
lines.append('static const uint8_t** const G_N[] = {NULL, ' + ', '.join('G_N_%d' % n for n in range(1, 11)) + '};')
lines.append('const uint8_t** nr_polar_kronecker_power_matrices(uint8_t n)\n{\n  return G_N[n];\n}\n')
open(sys.argv[1], 'w').write('\n'.join(lines))
PY
  fi
  for p in "${patches[@]}"; do
    log "applying $(basename "$p")"
    patch -s -p1 -d "$work/src/openairinterface5g" < "$p" || fail "patch $(basename "$p") does not apply"
  done
  local glue="$work/src/openairinterface5g/openair2/LAYER2/nr_pdcp/sl_bridge"
  log "copying the sl-bridge glue, shim and protoc-c output for bridge.proto into ${glue#"$work/src/"}"
  mkdir -p "$glue" && cp "${glue_files[@]}" "$glue/" || fail "cannot copy the sl-bridge glue into $glue"
  protoc-c --proto_path="$(dirname "$PROTO")" --c_out="$glue" "$(basename "$PROTO")" || fail "protoc-c failed on $PROTO"
  mkdir -p "$work/simde-include" && ln -sfn "$work/src/simde" "$work/simde-include/simde"
}
step 1 "sources ($(if [ -n "$archives" ]; then echo "archives in $archives"; else echo "upstream git"; fi))"
t_src=$(timed fetch_sources)

# --- 2. asn1c (OAI needs this fork: -gen-APER, ASN1C_PREFIX; Debian's 0.9.28 lacks them) ----
build_asn1c() {
  cd "$work/src/asn1c"
  autoreconf -fi >/dev/null 2>&1 || fail "asn1c: autoreconf failed"
  ./configure --prefix="$work/asn1c" >/dev/null || fail "asn1c: configure failed"
  nice -n 10 make -j"$jobs" >/dev/null 2>&1 || fail "asn1c: make failed"
  make install >/dev/null || fail "asn1c: make install failed"
}
step 2 "asn1c"
t_asn1c=$(timed build_asn1c)

# --- 3. configure OAI ------------------------------------------------------------------------
configure_oai() {
  mkdir -p "$work/build"
  cmake -S "$work/src/openairinterface5g" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DASN1C_EXEC="$work/asn1c/bin/asn1c" -DOAI_SIMU=ON \
    -DCMAKE_C_FLAGS="-I$work/simde-include" -DCMAKE_CXX_FLAGS="-I$work/simde-include" >"$work/cmake.log" 2>&1 \
    || { tail -30 "$work/cmake.log" >&2; fail "cmake failed (log above)"; }
}
step 3 "configure (cmake)"
t_cmake=$(timed configure_oai)

# --- 4. build: ninja's [done/total] progress, one line every 200 steps -----------------------
build_oai() {
  set -o pipefail
  nice -n 10 ninja -C "$work/build" -j"$jobs" "${TARGETS[@]}" 2>&1 | tee "$work/ninja.log" |
    awk '/^\[[0-9]+\/[0-9]+\]/ { s = $1; gsub(/[][]/, "", s); split(s, a, "/"); if (a[1] % 200 == 0 || a[1] == a[2]) { printf "[oai-sl] %s/%s steps\n", a[1], a[2] > "/dev/stderr" } }' \
    || { grep -m 20 -B2 -A8 'error' "$work/ninja.log" >&2 || tail -40 "$work/ninja.log" >&2; fail "ninja failed (errors above)"; }
}
step 4 "build ${TARGETS[*]} with $jobs jobs (about 15 min on 2 idle cores)"
t_build=$(timed build_oai)

# --- 5. install into the cache -----------------------------------------------------------------
install_build() {
  mkdir -p "$work/out/bin" "$work/out/src"
  cp -a "$work/build/nr-uesoftmodem" "$work/out/bin/"
  find "$work/build" -maxdepth 1 -name '*.so' -exec cp -a {} "$work/out/bin/" \;
  # The sources stay for the config files (targets/PROJECTS/NR-SIDELINK/CONF) and for reading.
  mv "$work/src/openairinterface5g" "$work/out/src/"
  cat >"$work/out/build.json" <<JSON
{"oaiCommit": "$OAI_COMMIT", "asn1cCommit": "$ASN1C_COMMIT", "simdeCommit": "$SIMDE_COMMIT",
 "patches": [$(for p in "${patches[@]}"; do printf '"%s",' "$(basename "$p")"; done | sed 's/,$//')],
 "slBridgeFiles": {$(for f in "${glue_files[@]}" "$PROTO"; do printf '"%s": "%s",' "$(basename "$f")" "$(sha256sum < "$f" | cut -c1-16)"; done | sed 's/,$//')},
 "protocC": "$(protoc-c --version 2>/dev/null | head -1)",
 "recipeVersion": $RECIPE_VERSION, "source": "${archives:-upstream}", "jobs": $jobs,
 "seconds": {"sources": $t_src, "asn1c": $t_asn1c, "cmake": $t_cmake, "build": $t_build},
 "builtAt": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "host": "$(uname -srm)"}
JSON
  [ -x "$work/out/bin/nr-uesoftmodem" ] || fail "no nr-uesoftmodem after the build"
  for lib in rfsimulator ldpc dfts params_libconfig coding; do
    [ -f "$work/out/bin/lib$lib.so" ] || fail "no lib$lib.so after the build"
  done
  rm -rf "$dest"
  mv "$work/out" "$dest"
}
step 5 "install into $dest"
install_build
log "done in $(( $(date +%s) - started )) s (sources ${t_src} s, asn1c ${t_asn1c} s, cmake ${t_cmake} s, build ${t_build} s)"
echo "$dest"
