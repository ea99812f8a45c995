#!/usr/bin/env bash
# Benchmark imgbuild against the shell pipelines that do the same work, on trees generated
# deterministically. Prints medians of wall time, their ratio to the baseline of the same run,
# and peak RSS (GNU time). Not part of `cargo test`.
#
#   scripts/bench.sh [--runs N] [--trees "m100 m1g small rebuild"] [--dir DIR]
#
# Trees: m100 = 100 MB mixed; m1g = 1 GB mixed (768 MB of files + one 256 MB incompressible
# file); m4g = 4 GB mixed (for the flat-memory check); small = 60,000 small files in deep dirs.
# rebuild = the layer cache (#13): a 1 GB tree, deps/ (950 MB) and app/ (50 MB), built with
# --layer 'deps/**' from an empty cache, then again with one app file changed, then again
# with nothing changed; ratios are to the first build.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
trees="m100 m1g small"
dir="${BENCH_DIR:-/tmp/imgbuild-bench}"
while [ $# -gt 0 ]; do
  case "$1" in
    --runs) runs="$2"; shift 2 ;;
    --trees) trees="$2"; shift 2 ;;
    --dir) dir="$2"; shift 2 ;;
    *) echo "usage: $0 [--runs N] [--trees \"m100 m1g m4g small\"] [--dir DIR]" >&2; exit 2 ;;
  esac
done

need=()
command -v pigz >/dev/null || need+=(pigz)
command -v zstd >/dev/null || need+=(zstd)
[ -x /usr/bin/time ] || need+=(time)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "bench: please install ${need[*]}" >&2; exit 1
  fi
fi

cargo build --release --locked -q
bin="$PWD/target/release/imgbuild"
mkdir -p "$dir"

gen() {
  local name="$1"
  [ -d "$dir/$name" ] && return
  echo "bench: generating $name in $dir" >&2
  case "$name" in
    m100) python3 scripts/gen_tree.py mixed "$dir/$name.tmp" 100 ;;
    m1g) python3 scripts/gen_tree.py mixed "$dir/$name.tmp" 768 256 ;;
    m4g) python3 scripts/gen_tree.py mixed "$dir/$name.tmp" 3072 1024 ;;
    r1g) python3 scripts/gen_tree.py mixed "$dir/$name.tmp/deps" 950 &&
      python3 scripts/gen_tree.py mixed "$dir/$name.tmp/app" 50 ;;
    small) python3 scripts/gen_tree.py small "$dir/$name.tmp" 60000 ;;
    *) echo "bench: unknown tree $name" >&2; exit 2 ;;
  esac
  mv "$dir/$name.tmp" "$dir/$name"
}

# measure NAME CMD: runs CMD $runs times, prints "median_seconds peak_rss_kib out_bytes"
measure() {
  local cmd="$1" times=() rss=0 t m
  for _ in $(seq "$runs"); do
    rm -f "$dir/out.tar" "$dir/size.txt"
    /usr/bin/time -f "%e %M" -o "$dir/time.txt" bash -c "$cmd" >/dev/null 2>"$dir/stderr.txt" || {
      echo "bench: command failed: $cmd" >&2; cat "$dir/stderr.txt" >&2; exit 1; }
    read -r t m < <(tail -1 "$dir/time.txt")
    times+=("$t")
    [ "$m" -gt "$rss" ] && rss="$m"
  done
  local median
  median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  echo "$median $rss"
}

# The layer cache: a first build, one app file changed, nothing changed.
rebuild() {
  gen r1g
  local src="$dir/r1g" cache="$dir/rcache" app_file
  app_file=$(find "$src/app" -type f | sort | head -1)
  local img="$bin build $src -o $dir/out.tar -q --layer 'deps/**' --cache-dir $cache"
  local first changed same rss
  read -r first rss < <(measure "rm -rf $cache && $img")
  printf '%-6s %-42s %9s %7s %9.1f\n' rebuild "first build, empty cache (gzip)" "$first" 1.00 "$(echo "$rss/1024" | bc -l)"
  bash -c "$img" >/dev/null
  # One app file rewritten (new content, same size) before each run.
  printf '%s\n' 'import sys' 'p = sys.argv[1]' 'b = bytearray(open(p, "rb").read())' \
    'b[0] ^= 1' 'open(p, "wb").write(b)' > "$dir/flip.py"
  read -r changed rss < <(measure "python3 $dir/flip.py $app_file && $img")
  printf '%-6s %-42s %9s %7s %9.1f\n' rebuild "one app file changed" "$changed" "$(awk -v a="$changed" -v b="$first" 'BEGIN{printf "%.3f", a/b}')" "$(echo "$rss/1024" | bc -l)"
  read -r same rss < <(measure "$img")
  printf '%-6s %-42s %9s %7s %9.1f\n' rebuild "nothing changed" "$same" "$(awk -v a="$same" -v b="$first" 'BEGIN{printf "%.3f", a/b}')" "$(echo "$rss/1024" | bc -l)"
  rm -rf "$cache"
}

printf '%-6s %-42s %9s %7s %9s %11s\n' tree command median_s ratio rss_MiB out_MiB
for tree in $trees; do
  if [ "$tree" = rebuild ]; then rebuild; continue; fi
  gen "$tree"
  src="$dir/$tree"
  # Peers, when installed, each from empty storage: umoci (unpack an empty image, copy the
  # tree into its rootfs, repack: a gzip layer) and buildah (copy into a scratch container,
  # commit a gzip-compressed OCI archive).
  peers=""
  if command -v umoci >/dev/null; then
    peers+="gzip-umoci#umoci unpack+cp+repack (gzip)#rm -rf $dir/umoci $dir/bundle && umoci init --layout $dir/umoci && umoci new --image $dir/umoci:t && umoci unpack --image $dir/umoci:t $dir/bundle && cp -a $src $dir/bundle/rootfs/app && umoci repack --image $dir/umoci:t $dir/bundle"$'\n'
  fi
  if command -v buildah >/dev/null && [ "$(id -u)" = 0 ]; then
    b="buildah --root $dir/bstore --runroot $dir/brun --storage-driver vfs"
    peers+="gzip-buildah#buildah from scratch+copy+commit (gzip)#rm -rf $dir/bstore $dir/brun && c=\$($b from scratch) && $b copy -q \$c $src /app && $b commit -q --disable-compression=false \$c oci-archive:$dir/out.tar"$'\n'
  fi
  declare -A base=()
  while IFS='#' read -r key label cmd; do
    [ -z "$key" ] && continue
    read -r secs rss < <(measure "$cmd")
    out=$( [ -f "$dir/out.tar" ] && stat -c %s "$dir/out.tar" || cat "$dir/size.txt" 2>/dev/null || echo 0)
    case "$key" in
      base-*) base[${key#base-}]="$secs"; ratio="1.00" ;;
      *) b="${base[${key%%-*}]:-}"; ratio=$( [ -n "$b" ] && awk -v a="$secs" -v b="$b" 'BEGIN{printf "%.2f", (b>0)?a/b:0}' || echo "-") ;;
    esac
    printf '%-6s %-42s %9s %7s %9.1f %11.1f\n' "$tree" "$label" "$secs" "$ratio" "$(echo "$rss/1024" | bc -l)" "$(echo "$out/1048576" | bc -l)"
  done <<EOF2
base-none#tar | openssl dgst -sha256 (SHA-NI)#tar -cf - -C $src . | tee >(wc -c > $dir/size.txt) | openssl dgst -sha256
none-sum#tar | sha256sum#tar -cf - -C $src . | sha256sum
none-tee#tar | tee FILE | openssl dgst -sha256; sync#tar -cf - -C $src . | tee $dir/out.tar | openssl dgst -sha256 && sync $dir/out.tar
none-img#imgbuild --compression none#$bin build $src -o $dir/out.tar -q --compression none --no-cache
base-gzip#tar | pigz -p2 -6 | sha256sum (both hashes)#tar -cf - -C $src . | tee >(sha256sum >/dev/null) | pigz -p2 -6 | tee >(wc -c > $dir/size.txt) | sha256sum
gzip-gz1#tar | gzip -6 | sha256sum#tar -cf - -C $src . | gzip -6 | tee >(wc -c > $dir/size.txt) | sha256sum
gzip-img#imgbuild (gzip -6, default)#$bin build $src -o $dir/out.tar -q --no-cache
base-zstd#tar | zstd -T2 -3 | sha256sum (both hashes)#tar -cf - -C $src . | tee >(sha256sum >/dev/null) | zstd -q -T2 -3 | tee >(wc -c > $dir/size.txt) | sha256sum
zstd-img#imgbuild --compression zstd#$bin build $src -o $dir/out.tar -q --compression zstd --no-cache
$peers
EOF2
  unset base
done
rm -rf "$dir/out.tar" "$dir/time.txt" "$dir/stderr.txt" "$dir/size.txt" "$dir/umoci" "$dir/bundle" "$dir/bstore" "$dir/brun"
