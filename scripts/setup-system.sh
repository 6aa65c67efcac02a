#!/usr/bin/env bash
# Installs the system pieces the test matrix needs on Debian 12 (bookworm), from Debian's apt only:
#  - chromium: headless browser tests, and its SwiftShader Vulkan ICD (a WebGPU adapter on any CPU)
#  - mesa-vulkan-drivers + libvulkan1: libLLVM and the Vulkan loader that Mesa 25 lavapipe needs
#  - Mesa 25 lavapipe from bookworm-backports, extracted into .cache/mesa25 without touching /etc/apt
#    (Debian 12's own Mesa 22 gives Dawn no adapter; lavapipe 25 is ~5x faster than SwiftShader and has
#    shader-f16 + subgroups, so the fp16 kernel paths are exercised in CI).
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
need=()
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/lib/x86_64-linux-gnu/libvulkan.so.1 ] || need+=(libvulkan1)
dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
if [ ${#need[@]} -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
DEST="$PWD/.cache/mesa25"
if [ ! -e "$DEST/lvp_icd.json" ]; then
  W=$(mktemp -d); mkdir -p "$W/lists/partial" "$W/none" "$W/debs" "$DEST"
  echo "deb http://deb.debian.org/debian bookworm-backports main" > "$W/sources.list"
  APTO=(-o Dir::Etc::SourceList="$W/sources.list" -o Dir::Etc::SourceParts="$W/none" -o Dir::State::Lists="$W/lists")
  if apt-get "${APTO[@]}" update -qq && (cd "$W/debs" && apt-get "${APTO[@]}" download -qq \
      mesa-vulkan-drivers mesa-libgallium libdrm2 libdrm-amdgpu1 libdrm-intel1 >/dev/null); then
    for d in "$W"/debs/*.deb; do dpkg-deb -x "$d" "$DEST"; done
    L="$DEST/usr/lib/x86_64-linux-gnu"
    printf '{"file_format_version":"1.0.1","ICD":{"library_path":"%s/libvulkan_lvp.so","api_version":"1.4.305"}}\n' "$L" > "$DEST/lvp_icd.json"
    echo "setup-system: Mesa 25 lavapipe in $DEST"
  else
    echo "setup-system: bookworm-backports unavailable; tests will use Chromium's SwiftShader (no shader-f16)" >&2
    rm -rf "$DEST"
  fi
  rm -rf "$W"
fi
echo "setup-system: ok"
