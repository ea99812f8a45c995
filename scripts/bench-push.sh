#!/usr/bin/env bash
# Push benchmark: a 1 GB image to a local registry (Debian's docker-registry on 127.0.0.1),
# by `imgbuild push` and by `skopeo copy` of the same archive, in the same run; then the
# startup cost of a local build (no registry touched) for two binaries.
#
#   scripts/bench-push.sh [IMGBUILD] [OLD_IMGBUILD]
#
# IMGBUILD defaults to target/release/imgbuild; OLD_IMGBUILD, if given, is timed for the
# startup comparison too. Prints ratios as well as seconds: the machine is shared and noisy.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/imgbuild}
OLD=${2:-}
SIZE_MB=${SIZE_MB:-1024}
W=$(mktemp -d)
trap 'kill "$REG_PID" 2>/dev/null || true; rm -rf "$W"' EXIT

for tool in docker-registry skopeo /usr/bin/time; do
  command -v "$tool" >/dev/null || { echo "bench-push: $tool is missing" >&2; exit 1; }
done

echo "bench-push: generating a ${SIZE_MB} MB tree"
python3 scripts/gen_tree.py mixed "$W/tree" "$((SIZE_MB / 2))" "$((SIZE_MB / 2))" >/dev/null
SOURCE_DATE_EPOCH=1700000000 "$BIN" build "$W/tree" -o "$W/app.tar" -t app:1 -q >/dev/null
ls -l "$W/app.tar" | awk '{printf "bench-push: archive %.0f MB\n", $5 / 1048576}'

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$W/reg"
cat > "$W/reg.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $W/reg}}
http: {addr: 127.0.0.1:$PORT}
EOF
docker-registry serve "$W/reg.yml" >"$W/reg.log" 2>&1 &
REG_PID=$!
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/$PORT) 2>/dev/null && break
  sleep 0.1
done

measure() { # NAME CMD... → "NAME SECONDS RSS_KB"
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$W/time" "$@" >/dev/null 2>"$W/err" || { cat "$W/err" >&2; exit 1; }
  read -r secs rss <"$W/time"
  printf '%-10s %8.2f s %8d KiB peak RSS\n' "$name" "$secs" "$rss"
  echo "$secs" >"$W/$name.secs"
}

echo "bench-push: pushing (each to a new repository, so every blob is uploaded)"
measure imgbuild "$BIN" push "$W/app.tar" "127.0.0.1:$PORT/a/app:1" --cache-dir "$W/cache"
measure skopeo skopeo copy --dest-tls-verify=false "oci-archive:$W/app.tar" "docker://127.0.0.1:$PORT/b/app:1"
python3 - "$W" <<'EOF'
import sys
w = sys.argv[1]
a = float(open(f"{w}/imgbuild.secs").read()); b = float(open(f"{w}/skopeo.secs").read())
print(f"bench-push: imgbuild push takes {a / b:.2f}x the time of skopeo copy")
EOF

echo "bench-push: startup of a local build (tiny context, 20 runs each)"
mkdir -p "$W/tiny"; echo hi >"$W/tiny/hello.txt"
startup() { # BIN → seconds for 20 builds
  local b=$1 start end
  start=$(date +%s.%N)
  for _ in $(seq 20); do
    SOURCE_DATE_EPOCH=1700000000 "$b" build "$W/tiny" -o "$W/tiny.tar" -q >/dev/null
  done
  end=$(date +%s.%N)
  python3 -c "print(f'{($end - $start) / 20 * 1000:.1f}')"
}
NEW_MS=$(startup "$BIN")
echo "bench-push: $BIN: ${NEW_MS} ms per build"
if [ -n "$OLD" ]; then
  OLD_MS=$(startup "$OLD")
  echo "bench-push: $OLD: ${OLD_MS} ms per build"
  python3 -c "print(f'bench-push: new/old startup {$NEW_MS / $OLD_MS:.2f}x')"
fi
