#!/usr/bin/env bash
# Builds one AFL++ target with cargo-afl (stable Rust) and fuzzes it for a bounded time.
#
#   fuzz/run.sh TARGET SECONDS [EXECS]
#
# TARGET is load, config or render (see docs/fuzzing.md). The run stops after SECONDS, or
# after about EXECS executions when given, whichever comes first. It then prints the counts
# from afl's fuzzer_stats and the panic message of every crash, and exits 1 when it found a
# crash, 0 otherwise (2 for usage or tool problems). Results stay in
# fuzz/artifacts/TARGET/<UTC time>/default/ (crashes/, hangs/, queue/, fuzzer_stats).
#
# Environment: NPGUARD (seed folder, default ../shared/corpus/npguard next to the
# repository; skipped when absent), MAX_SEED_BYTES (default 8192), AFL_TIMEOUT_MS
# (default 2000: slower inputs count as hangs; an alias bomb
# stopped at the loader's 1M-node budget takes ~0.6 s), AFL_MEM_MB (default 2048).
set -euo pipefail

usage() {
    echo "usage: fuzz/run.sh load|config|render SECONDS [EXECS]" >&2
    exit 2
}
[ $# -ge 2 ] && [ $# -le 3 ] || usage
target=$1
seconds=$2
execs=${3:-}
case $target in load | config | render) ;; *) usage ;; esac
[[ $seconds =~ ^[1-9][0-9]*$ ]] || usage
[[ -z $execs || $execs =~ ^[1-9][0-9]*$ ]] || usage

fuzz=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$fuzz")
commit=$(git -C "$root" rev-parse --short HEAD)
git -C "$root" diff --quiet HEAD -- crates fuzz || commit="$commit+dirty"
cd "$fuzz"

if ! cargo afl --version >/dev/null 2>&1; then
    echo "error: cargo-afl is missing; install it with: cargo install --locked cargo-afl" >&2
    exit 2
fi

# cargo-afl builds its own AFL++; put its tools first on PATH, because afl-cmin runs
# whichever afl-showmap it finds there and an older one (Debian's afl++) breaks it.
rustc_id=$(rustc -vV | awk '/^release:/ { r = $2 } /^commit-hash:/ { c = substr($2, 1, 7) } END { print r "-" c }')
afl_version=$(cargo afl --version | awk '{ print $2 }')
afl_bin=${XDG_DATA_HOME:-$HOME/.local/share}/afl.rs/rustc-$rustc_id/afl.rs-$afl_version/afl/bin
if [ ! -x "$afl_bin/afl-fuzz" ]; then
    echo "error: no AFL++ at $afl_bin; run: cargo afl config --build" >&2
    exit 2
fi
export PATH=$afl_bin:$PATH

echo "==> building $target (cargo afl build --release)" >&2
cargo afl build --release --locked --features afl --bin "$target" >&2
bin=$fuzz/target/release/$target

# Seeds: small inputs from the repository (and the np-guard corpus when present), named
# by content hash so duplicates collapse.
raw=$fuzz/corpus/$target-all
seeds=$fuzz/corpus/$target
rm -rf "$raw" "$seeds"
mkdir -p "$raw"
max=${MAX_SEED_BYTES:-8192}
add_seeds() {
    find "$@" -type f \( -name '*.yaml' -o -name '*.yml' -o -name '*.json' \) -size -"$((max + 1))"c -print0 2>/dev/null |
        while IFS= read -r -d '' f; do
            cp "$f" "$raw/$(sha1sum <"$f" | cut -c1-16)"
        done
}
npguard=${NPGUARD:-$(dirname "$root")/shared/corpus/npguard}
case $target in
    load | render)
        add_seeds "$fuzz/seeds/yaml" "$root/testdata/manifests" "$root/testdata/reach" "$root/examples"
        if [ -d "$npguard/tests" ]; then
            add_seeds "$npguard/tests"
        else
            echo "note: no np-guard corpus at $npguard; seeding from the repository only" >&2
        fi
        ;;
    config)
        add_seeds "$fuzz/seeds/config"
        find "$root/examples" -name netpol.yaml -print0 | while IFS= read -r -d '' f; do
            cp "$f" "$raw/$(sha1sum <"$f" | cut -c1-16)"
        done
        # The examples in the user guide.
        awk -v dir="$raw" '/^```yaml/ { n++; on = 1; next } /^```/ { on = 0 } on { print > (dir "/verify-md-" n ".yaml") }' \
            "$root/docs/verify.md"
        ;;
esac

# No UI (logs instead), no CPU pinning (the cores are shared), and no demands on the host's
# core_pattern and CPU governor, which need root to change.
export AFL_NO_UI=1 AFL_NO_AFFINITY=1 AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1
limits=(-t "${AFL_TIMEOUT_MS:-2000}" -m "${AFL_MEM_MB:-2048}")
# Keep the smallest seeds that reach every edge the whole set reaches: hundreds of similar
# manifests would otherwise cost the fuzzer its first minutes.
echo "==> minimising $(find "$raw" -type f | wc -l) seeds (afl-cmin)" >&2
if ! cargo afl cmin -i "$raw" -o "$seeds" "${limits[@]}" -- "$bin" >"$fuzz/corpus/$target-cmin.log" 2>&1; then
    tail -n 20 "$fuzz/corpus/$target-cmin.log" >&2
    echo "error: afl-cmin failed (a seed may crash the target: replay it with $bin < FILE)" >&2
    exit 2
fi
if [ -z "$(ls -A "$seeds")" ]; then
    # Seen with the config seeds: afl-cmin (4.40c) read no coverage at all. Fuzz them all.
    echo "warning: afl-cmin kept no seeds; using all of them" >&2
    cp "$raw"/* "$seeds"/
fi
echo "==> $(find "$seeds" -type f | wc -l) seeds in $seeds" >&2

out=$fuzz/artifacts/$target/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$out"
dicts=(-x "$fuzz/dict/netpol.dict")
args=(-i "$seeds" -o "$out" -V "$seconds" "${limits[@]}" "${dicts[@]}")
[ -n "$execs" ] && args+=(-E "$execs")

echo "==> cargo afl fuzz ${args[*]} -- $bin" >&2
status=0
cargo afl fuzz "${args[@]}" -- "$bin" >"$out/afl.log" 2>&1 || status=$?
stats=$out/default/fuzzer_stats
if [ ! -f "$stats" ]; then
    tail -n 30 "$out/afl.log" >&2
    echo "error: afl-fuzz stopped before fuzzing (exit $status); log: $out/afl.log" >&2
    exit 2
fi

if [ "$status" != 0 ]; then
    echo "warning: afl-fuzz exited with $status; see $out/afl.log" >&2
fi

stat() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
crashes=$(stat saved_crashes)
hangs=$(stat saved_hangs)
echo "target=$target commit=$commit run_time=$(stat run_time)s" \
    "execs_done=$(stat execs_done) execs_per_sec=$(stat execs_per_sec) corpus=$(stat corpus_count)" \
    "edges=$(stat edges_found) stability=$(stat stability) crashes=$crashes hangs=$hangs"
echo "results: $out/default"

# Replays each crash outside the fuzzer to show its panic (the harness reads stdin when
# run alone), one line per distinct message.
if [ "$crashes" != 0 ]; then
    echo "crashes (panic location and message; input files in $out/default/crashes):"
    for f in "$out"/default/crashes/id:*; do
        "$bin" <"$f" 2>&1 | awk '/panicked at/ { getline m; sub(/.*panicked at /, ""); print "  " $0 " " m; exit }'
    done | sort | uniq -c
    exit 1
fi
if [ "$hangs" != 0 ]; then
    echo "hangs: inputs slower than ${AFL_TIMEOUT_MS:-2000} ms are in $out/default/hangs (replay: $bin < FILE)"
fi
