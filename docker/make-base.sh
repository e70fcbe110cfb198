#!/bin/sh
# Builds a Node base image from this machine's own Node, for machines that
# cannot pull the official node image (no registry). The image holds what the
# shared Dockerfile needs from its base and nothing more: node and npm, the
# shared libraries node links, /bin/sh and /usr/bin/env (npm scripts and
# `#!/usr/bin/env node` bins), the CA bundle, and root and node users like
# the official image's.
#
# usage: docker/make-base.sh [tag]   (default ringlb-node-base:local)
set -eu

tag="${1:-ringlb-node-base:local}"
node_bin="$(readlink -f "$(command -v node)")"
npm_dir="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
ca_bundle="${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}"

root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
fs="$root/rootfs"
mkdir -p "$fs/usr/local/bin" "$fs/usr/local/lib/node_modules" "$fs/usr/bin" "$fs/bin" \
  "$fs/etc/ssl/certs" "$fs/tmp" "$fs/root" "$fs/home/node"
chmod 1777 "$fs/tmp"

# a file at the same path inside the image, with the shared libraries it links
copy_with_libs () {
  cp -L "$1" "$fs$2"
  ldd "$1" | awk '/=>/ { print $3 } /^\t\/.*ld-linux/ { print $1 }' | while read -r lib; do
    [ -n "$lib" ] && [ -f "$lib" ] || continue
    mkdir -p "$fs$(dirname "$lib")"
    cp -L "$lib" "$fs$lib"
  done
}

copy_with_libs "$node_bin" /usr/local/bin/node
copy_with_libs "$(readlink -f /bin/sh)" /bin/sh
copy_with_libs "$(readlink -f /usr/bin/env)" /usr/bin/env
# glibc loads its name-service modules at run time for DNS and /etc/hosts lookups
for lib in /lib/x86_64-linux-gnu/libnss_files.so.2 /lib/x86_64-linux-gnu/libnss_dns.so.2 \
           /lib/aarch64-linux-gnu/libnss_files.so.2 /lib/aarch64-linux-gnu/libnss_dns.so.2; do
  if [ -f "$lib" ]; then mkdir -p "$fs$(dirname "$lib")"; cp -L "$lib" "$fs$lib"; fi
done

cp -R "$npm_dir" "$fs/usr/local/lib/node_modules/npm"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$fs/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$fs/usr/local/bin/npx"
cp -L "$ca_bundle" "$fs/etc/ssl/certs/ca-certificates.crt"

printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' > "$fs/etc/passwd"
printf 'root:x:0:\nnode:x:1000:\n' > "$fs/etc/group"
printf 'hosts: files dns\n' > "$fs/etc/nsswitch.conf"
chown 1000:1000 "$fs/home/node"

cat > "$root/Dockerfile" <<'EOF'
FROM scratch
COPY rootfs/ /
ENV PATH=/usr/local/bin:/usr/bin:/bin \
    NPM_CONFIG_CAFILE=/etc/ssl/certs/ca-certificates.crt
CMD ["node"]
EOF

DOCKER_BUILDKIT=0 docker build --force-rm -q -t "$tag" "$root" >/dev/null
echo "built $tag from $node_bin ($("$node_bin" --version)) and npm $(node "$npm_dir/bin/npm-cli.js" --version 2>/dev/null)"
