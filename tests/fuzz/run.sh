#!/bin/bash
# Builds each tests/fuzz/fuzz_*.c with clang's libFuzzer + ASan/UBSan against the
# sources it needs, and runs it for FUZZ_SECONDS (default 10) from its corpus in
# tests/fuzz/corpus/<name>/ (seeds are committed; new finds stay in build/). A crash
# fails the run and leaves the input in build/fuzz/. Where a parser has an encoder the
# target asserts decode -> encode -> decode gives the same value (a failed assertion
# is a crash).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
out=$top/build/fuzz
secs=${FUZZ_SECONDS:-10}
mkdir -p "$out"
cc=${FUZZ_CC:-clang}
# shellcheck disable=SC2054,SC2207 # commas inside one flag; pkg-config words split
flags=(-g -O1 -std=gnu11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined
	-fno-sanitize-recover=undefined -I"$top" -I"$top/common" -I"$top/api-server"
	$(pkg-config --cflags jansson libsodium libpq))
# shellcheck disable=SC2207
libs=($(pkg-config --libs jansson libsodium))
common=("$top"/common/{msg,disk_qos,conf,jparse,jsonw,util,xalloc}.c)
declare -A extra=([fuzz_image_inspect]="$top/common/qemu_img.c $top/common/proc.c $top/common/volfile.c"
	[fuzz_sigv4]="$top/common/sigv4.c"
	[fuzz_multipart]="$top/object-store/multipart.c"
	[fuzz_s3]="$top/common/sigv4.c $top/object-store/s3_request.c $top/object-store/s3_view.c $top/object-store/s3_xml.c $top/object-store/markup.c $top/object-store/s3_error.c")
pass=0 fail=0
for src in "$here"/fuzz_*.c; do
	name=$(basename "$src" .c)
	# a target that does not build fails, and the others still run
	# shellcheck disable=SC2086
	if ! "$cc" "${flags[@]}" -o "$out/$name" "$src" "${common[@]}" ${extra[$name]:-} \
		"${libs[@]}" >"$out/$name.build.log" 2>&1; then
		echo "not ok - $name: does not build"
		tail -20 "$out/$name.build.log"
		fail=$((fail + 1))
		continue
	fi
	corpus=$out/corpus-$name
	mkdir -p "$corpus"
	seeds=()
	[ -d "$here/corpus/$name" ] && seeds=("$here/corpus/$name")
	if (cd "$out" && ./"$name" -max_total_time="$secs" -max_len=65536 -timeout=10 \
		-print_final_stats=0 "$corpus" "${seeds[@]}" >"$out/$name.log" 2>&1); then
		echo "ok - $name ($(grep -o 'cov: [0-9]*' "$out/$name.log" | tail -1))"
		pass=$((pass + 1))
	else
		echo "not ok - $name: see $out/$name.log"
		tail -30 "$out/$name.log"
		fail=$((fail + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
