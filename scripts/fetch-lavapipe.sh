#!/usr/bin/env bash
# A software Vulkan (Mesa 25's lavapipe) for the GPU-route tests, unpacked into a folder without
# changing the system: Debian 12's own Mesa 22.3 lavapipe is refused by Dawn (it lacks
# shaderUniform*ArrayDynamicIndexing), bookworm-backports has Mesa 25. The backports suite is read
# from the same mirror as the machine's own apt sources, with a private package list.
#
#   scripts/fetch-lavapipe.sh DIR    # then: . DIR/env.sh  (sets VK_ICD_FILENAMES, LD_LIBRARY_PATH)
#
# Needs the Vulkan loader (libvulkan1) and lavapipe's shared libraries from Debian 12 itself;
# .ci/run installs those with apt-get.
set -euo pipefail
dest="$(mkdir -p "$1" && cd "$1" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# The mirror of the machine's Debian sources (deb822 or one-line format).
mirror="$(grep -hoE '^URIs: *[^ ]+/debian/?$' /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1 | sed 's/^URIs: *//')"
if [ -z "$mirror" ]; then
  mirror="$(grep -hoE '^deb +[^ ]+/debian/? +bookworm' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | head -1 | awk '{print $2}')"
fi
[ -n "$mirror" ] || { echo "fetch-lavapipe: no Debian mirror found in /etc/apt/sources*" >&2; exit 1; }

mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
echo "deb $mirror bookworm-backports main" > "$work/sources.list"
apt_opts=(-o "Dir::Etc::sourcelist=$work/sources.list" -o Dir::Etc::sourceparts=/dev/null
  -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache" -o Debug::NoLocking=1)
apt-get "${apt_opts[@]}" update -qq 2>&1 | grep -v "unsandboxed as root" >&2 || true
(cd "$work" && apt-get "${apt_opts[@]}" download mesa-vulkan-drivers libdrm2 libdrm-amdgpu1 2>&1 | grep -v "unsandboxed as root" >&2 || true)
for deb in "$work"/*.deb; do dpkg -x "$deb" "$dest"; done

libdir="$dest/usr/lib/x86_64-linux-gnu"
icd="$dest/lvp_icd.json"
# The ICD file names its library by an absolute system path: point it into the folder.
sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$libdir/libvulkan_lvp.so\"#" \
  "$(ls "$dest"/usr/share/vulkan/icd.d/lvp_icd*.json | head -1)" > "$icd"
cat > "$dest/env.sh" <<ENV
export VK_ICD_FILENAMES="$icd"
export VK_DRIVER_FILES="$icd"
export LD_LIBRARY_PATH="$libdir\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
ENV
echo "lavapipe $(ls "$work" | grep -o 'mesa-vulkan-drivers_[^_]*' | cut -d_ -f2) in $dest (. $dest/env.sh)"
