#!/usr/bin/env bash
# System packages genreward needs beyond a Rust toolchain (Debian/Ubuntu):
#   mesa-vulkan-drivers, libvulkan1  a Vulkan device even without a GPU (lavapipe)
#   xvfb, xauth                       a virtual X display for the app's tests
#   ffmpeg                            ffprobe, to check recorded MP4s in the tests
#   numpy, gymnasium, pytest (pip)    the .npy check and the Python package's tests
# Safe to run again; skips what is already there.
set -euo pipefail
need=()
for pkg in mesa-vulkan-drivers libvulkan1 xvfb xauth ffmpeg; do
  dpkg -s "$pkg" >/dev/null 2>&1 || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if command -v python3 >/dev/null && ! python3 -c "import numpy, gymnasium, pytest" 2>/dev/null; then
  python3 -m pip install -q --disable-pip-version-check numpy gymnasium pytest \
    || echo "warning: numpy/gymnasium/pytest not installed; the Python tests will fail" >&2
fi
