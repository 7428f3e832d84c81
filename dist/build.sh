#!/usr/bin/env bash
# sockit's release files, made in one go into target/dist:
#   sockit_VERSION_ARCH.deb                  the Debian package (cargo-deb): the binary, the
#                                            man pages, completions, systemd units, README
#   sockit-VERSION-TRIPLE-static.tar.gz      a fully static, position-independent binary with
#                                            the same pages, completions and units
#   SHA256SUMS                               the checksums of both
# Usage: dist/build.sh [deb|tarball|all]   (all by default)
# cargo-deb is taken from PATH, else from .tools/bin, else installed there.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-all}
case "$what" in deb | tarball | all) ;; *) echo "usage: dist/build.sh [deb|tarball|all]" >&2; exit 2 ;; esac
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
out=target/dist
rm -rf "$out" && mkdir -p "$out/man" "$out/completions"

# The pages and completions, written by the binary itself.
assets() {
  local bin=$1
  "$bin" manpage --dir "$out/man"
  "$bin" completions bash >"$out/completions/sockit.bash"
  "$bin" completions zsh >"$out/completions/_sockit"
  "$bin" completions fish >"$out/completions/sockit.fish"
}

if [ "$what" != tarball ]; then
  cargo build --release -p sockit-cli
  assets target/release/sockit
  deb=$(command -v cargo-deb || true)
  if [ -z "$deb" ]; then
    [ -x .tools/bin/cargo-deb ] || cargo install cargo-deb --locked --root .tools
    deb=.tools/bin/cargo-deb
  fi
  "$deb" -p sockit-cli --no-build --no-strip --output "$out/"
fi

if [ "$what" != deb ]; then
  T=$(rustc -vV | sed -n 's/^host: //p')
  cargo build --release -p sockit-cli --target "$T" --config "target.$T.rustflags=[\"-C\", \"target-feature=+crt-static\"]"
  bin="target/$T/release/sockit"
  # Static: no dynamic section to load (ldd says so), and position-independent (static-pie).
  if ldd "$bin" 2>&1 | grep -q '=>'; then
    echo "dist: $bin needs shared libraries:" >&2
    ldd "$bin" >&2
    exit 1
  fi
  [ -s "$out/man/sockit.1" ] || assets "$bin"
  name="sockit-$version-$T-static"
  stage=$(mktemp -d)
  mkdir -p "$stage/$name"
  cp "$bin" README.md "$stage/$name/"
  cp -r "$out/man" "$out/completions" dist/systemd "$stage/$name/"
  cp dist/chat.toml "$stage/$name/"
  tar -C "$stage" --owner=0 --group=0 --sort=name -czf "$out/$name.tar.gz" "$name"
  rm -rf "$stage"
fi

shopt -s nullglob
made=("$out"/*.deb "$out"/*.tar.gz)
(cd "$out" && sha256sum "${made[@]##*/}" >SHA256SUMS)
cat "$out/SHA256SUMS"
