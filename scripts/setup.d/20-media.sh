#!/usr/bin/env bash
# Test and benchmark media, made here and never committed (.cache/media):
#  - vtest.avi: OpenCV's pedestrian clip (768x576, 10 fps, 795 frames, MS-MPEG4v3), from Debian's opencv-doc.
#  - the same footage as H.264 / H.265 in mp4, mkv, avi and a raw Annex-B stream, and scaled to 720p and 1080p
#    (natural footage: benchmarks must not run on test patterns only, which decode 3-5x faster).
#  - short videotestsrc clips at 720p and 1080p.
set -euo pipefail
out="${VIGIL_MEDIA_DIR:-$PWD/.cache/media}"
stamp="$out/.v2"
[ -f "$stamp" ] && { echo "media present in $out"; exit 0; }
mkdir -p "$out"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$out/vtest.avi" ]; then
  (cd "$tmp" && apt-get download opencv-doc >/dev/null)
  dpkg-deb --fsys-tarfile "$tmp"/opencv-doc_*.deb | tar -x -C "$tmp" ./usr/share/doc/opencv-doc/examples/data/vtest.avi
  cp "$tmp/usr/share/doc/opencv-doc/examples/data/vtest.avi" "$out/vtest.avi"
fi
src="$out/vtest.avi"
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
x264=(-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 20 -bf 0)
x265=(-c:v libx265 -preset veryfast -pix_fmt yuv420p -x265-params log-level=error:keyint=20:bframes=0)
ff -i "$src" "${x264[@]}" -b:v 1M -an "$out/vtest-h264.mp4"
ff -i "$out/vtest-h264.mp4" -c copy "$out/vtest-h264.mkv"
ff -i "$out/vtest-h264.mp4" -c copy "$out/vtest-h264.avi"
ff -i "$out/vtest-h264.mp4" -c copy -bsf:v h264_mp4toannexb -f h264 "$out/vtest.h264"
ff -i "$src" "${x265[@]}" -b:v 800k -an "$out/vtest-h265.mp4"
ff -i "$out/vtest-h265.mp4" -c copy "$out/vtest-h265.mkv"
# Benchmark footage: the pedestrian clip scaled up, at the bitrates cameras use.
ff -i "$src" -vf scale=1280:720:flags=bicubic "${x264[@]}" -b:v 2M -maxrate 2M -bufsize 4M -an "$out/vtest-720p.mp4"
ff -i "$src" -vf scale=1920:1080:flags=bicubic "${x264[@]}" -b:v 4M -maxrate 4M -bufsize 8M -an "$out/vtest-1080p.mp4"
# 15 fps cameras for the density benchmark: the same frames played 1.5x faster (no duplicated frames).
ff -i "$src" -vf scale=1280:720:flags=bicubic,setpts=PTS/1.5 -r 15 "${x264[@]}" -g 30 -b:v 2M -an "$out/vtest-720p15.mp4"
# Generated clips: 60 frames of the moving-ball pattern.
for size in 1280x720 1920x1080; do
  w=${size%x*}; h=${size#*x}
  gst-launch-1.0 -q videotestsrc num-buffers=60 pattern=ball ! "video/x-raw,width=$w,height=$h,framerate=30/1" \
    ! x264enc speed-preset=veryfast key-int-max=30 ! h264parse ! mp4mux ! filesink location="$out/gen-${h}p.mp4"
done
touch "$stamp"
ls -la "$out"
