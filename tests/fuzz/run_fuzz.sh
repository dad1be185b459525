#!/usr/bin/env bash
# Fuzzes the .dcz decoder with libFuzzer, AddressSanitizer and UndefinedBehaviorSanitizer (docs/fuzzing.md).
#   fuzz_read_container: whole files through read_container (checksums off, then on);
#   fuzz_read_stream:    single Huffman streams through read_stream.
# Builds both with clang++ from the codec sources, seeds each corpus with small valid inputs made by
# make_seeds, fuzzes for FUZZ_SECONDS in all (default 60; two thirds to the container target) and
# exits non-zero on a finding. Crashers land in tests/fuzz/regressions/ (replayed by the codec's
# Catch2 tests); the growing corpora stay in build/fuzz/corpus/ between runs.
# Environment: FUZZ_SECONDS, FUZZ_MAX_LEN (default 4096), FUZZ_CXX (default clang++).
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds="${FUZZ_SECONDS:-60}"
max_len="${FUZZ_MAX_LEN:-4096}"
cxx="${FUZZ_CXX:-clang++}"
out=build/fuzz
regressions=tests/fuzz/regressions

xxhash=""
for dir in /usr/include third_party/xxhash/usr/include; do
  if [ -f "$dir/xxhash.h" ]; then xxhash="$dir"; break; fi
done
if [ -z "$xxhash" ]; then
  echo "run_fuzz: xxhash.h not found (install libxxhash-dev, or run scripts/vendor_deps.sh)" >&2
  exit 2
fi
if ! echo 'int main(){}' | "$cxx" -x c++ -fsanitize=fuzzer-no-link - -o /dev/null 2>/dev/null; then
  echo "run_fuzz: $cxx cannot build with -fsanitize=fuzzer (install clang and libclang-rt-14-dev: scripts/setup.sh does)" >&2
  exit 2
fi

mkdir -p "$out/obj" "$out/seeds/container" "$out/seeds/stream" "$out/corpus/container" "$out/corpus/stream" "$regressions"
flags=(-std=c++17 -g -O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined
       -Icsrc -Icsrc/include)
# /usr/include is searched anyway; naming it with -isystem would break libstdc++'s #include_next.
[ "$xxhash" = /usr/include ] || flags+=(-isystem "$xxhash")

echo "run_fuzz: building the codec with sanitizers"
objects=()
for source in csrc/codec/*.cpp; do objects+=("$out/obj/$(basename "${source%.cpp}").o"); done
printf '%s\n' csrc/codec/*.cpp |
  xargs -P "$(nproc)" -I{} sh -c '"$0" "$@" -c {} -o "'"$out"'/obj/$(basename {} .cpp).o"' "$cxx" "${flags[@]}"
for target in read_container read_stream; do
  "$cxx" "${flags[@]}" -fsanitize=fuzzer "tests/fuzz/fuzz_$target.cpp" "${objects[@]}" -o "$out/fuzz_$target"
done
# The seed generator needs no fuzzer runtime; sanitizers keep it honest too.
"$cxx" -std=c++17 -g -O1 -fsanitize=address,undefined -Icsrc -Icsrc/include -Itests/cpp/codec \
  tests/fuzz/make_seeds.cpp "${objects[@]}" -o "$out/make_seeds"
"$out/make_seeds" "$out/seeds/container" "$out/seeds/stream"

container_seconds=$(( seconds * 2 / 3 > 0 ? seconds * 2 / 3 : 1 ))
stream_seconds=$(( seconds - container_seconds > 0 ? seconds - container_seconds : 1 ))
status=0
fuzz() {  # target, corpus, seconds
  local target="$1" corpus="$2" time="$3"
  echo "run_fuzz: fuzz_$target for ${time}s"
  # -timeout: reading max_len bytes takes microseconds; an input that takes 10 s is a finding too.
  if ! UBSAN_OPTIONS=print_stacktrace=1 "$out/fuzz_$target" -max_total_time="$time" -max_len="$max_len" \
      -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$regressions/$corpus-" \
      "$out/corpus/$corpus" "$out/seeds/$corpus"; then
    echo "run_fuzz: FINDING in fuzz_$target; the input is in $regressions/ (replay: $out/fuzz_$target FILE)" >&2
    status=1
  fi
}
fuzz read_container container "$container_seconds"
fuzz read_stream stream "$stream_seconds"
exit "$status"
