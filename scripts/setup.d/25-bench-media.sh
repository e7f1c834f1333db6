#!/usr/bin/env bash
# Scene-mix footage for the density benchmark (issue 16), made from vtest.avi (20-media.sh) into .cache/media and
# never committed. Every clip is H.264 High, 15 fps, GOP 30, no B-frames, like the cameras it stands for.
#
# Busy cameras (people in every frame): vtest at 15 fps (the 10 fps frames played 1.5x faster, none duplicated), as
#  - vtest-720p15.mp4    1280x720  2 Mbit/s  (made by 20-media.sh; the single-stream benchmark camera)
#  - vtest-1080p15.mp4   1920x1080 4 Mbit/s  main stream     } frame n of one is frame n of the other:
#  - vtest-360p15.mp4     640x360  512 kbit/s detect substream } one camera, two inputs, one clock
# Quiet cameras: 120 s loops of a static scene with sensor noise, a slow lighting change and one person crossing
# every 60 s (at 5 s and 65 s, for ~11 s), as quiet-720p15.mp4, quiet-1080p15.mp4 and quiet-360p15.mp4 (same
# bitrates, frame-aligned). Made from the footage, not drawn:
#  - background plate: the per-pixel temporal median of every 8th vtest frame (the walkers move on, the scene stays);
#  - the walker: foreground blobs (|frame - plate| > 40, opened/closed, at half resolution) linked across frames by
#    overlap; the longest-moving stretch where one person-shaped blob of steady size has nobody within 24 px is cut
#    out of its own frames (mask |frame - plate| > 30, closed, dilated, feathered) and pasted back onto the plate at
#    its own positions and pace (10 fps footage: it enters mid-scene and walks off the left edge);
#  - lighting: ffmpeg eq with brightness 0.05*sin(2*pi*t/120) and contrast 1+0.04*sin(2*pi*t/120+1), evaluated per
#    frame (one period per loop, so the loop has no seam);
#  - sensor noise: ffmpeg noise, temporal, luma strength 7, chroma 3, added per output resolution.
# bench-media.json records the walker's frames and boxes (in vtest pixels) and these parameters.
# Needs ffmpeg and python3-numpy/scipy (00-apt.sh). About a minute on two cores.
set -euo pipefail
cd "${VIGIL_ROOT:-$(dirname "$0")/../..}"
out="${VIGIL_MEDIA_DIR:-$PWD/.cache/media}"
stamp="$out/.bench-v1"
[ -f "$stamp" ] && { echo "bench media present in $out"; exit 0; }
src="$out/vtest.avi"
[ -f "$src" ] || { echo "$src is missing: run scripts/setup.d/20-media.sh first" >&2; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
ff() { ffmpeg -nostdin -hide_banner -loglevel error -y "$@"; }
x264=(-c:v libx264 -preset veryfast -profile:v high -pix_fmt yuv420p -g 30 -bf 0)

# Busy: the main stream and the detect substream of the same camera, in one decode.
ff -i "$src" -filter_complex "[0:v]setpts=PTS/1.5,split=2[a][b];[a]scale=1920:1080:flags=bicubic[hd];[b]scale=640:360:flags=bicubic[sd]" \
  -map '[hd]' -r 15 "${x264[@]}" -b:v 4M -maxrate 4M -bufsize 8M -an "$tmp/vtest-1080p15.mp4" \
  -map '[sd]' -r 15 "${x264[@]}" -b:v 512k -maxrate 512k -bufsize 1M -an "$tmp/vtest-360p15.mp4"

# Quiet: python composes the 768x576 scene (plate + walker) at 15 fps; ffmpeg adds light and noise and encodes.
cat > "$tmp/quiet.py" <<'PY'
import subprocess, sys, json
import numpy as np
from scipy import ndimage

src, out_json = sys.argv[1], sys.argv[2]
W, H = 768, 576
FPS_IN, FPS_OUT, LOOP_S, PERIOD_S, START_S = 10, 15, 120, 60, 5

def frames(path):
    p = subprocess.Popen(['ffmpeg', '-nostdin', '-v', 'error', '-i', path, '-f', 'rawvideo', '-pix_fmt', 'rgb24', '-'], stdout=subprocess.PIPE)
    n = W * H * 3
    while True:
        b = p.stdout.read(n)
        if len(b) < n: break
        yield np.frombuffer(b, np.uint8).reshape(H, W, 3)
    p.wait()

# Background plate: per-pixel temporal median of every 8th frame (the walkers move on; the scene stays).
plate = np.median(np.stack([f for i, f in enumerate(frames(src)) if i % 8 == 0]), axis=0).astype(np.uint8)
p16 = plate.astype(np.int16)

# Foreground blobs per frame, linked into tracks by overlap.
blobs = []
half = p16[::2, ::2]  # blobs are found at half resolution (4x less work), boxes scaled back
for f in frames(src):
    m = np.abs(f[::2, ::2].astype(np.int16) - half).max(axis=2) > 40
    m = ndimage.binary_closing(ndimage.binary_opening(m, iterations=1), iterations=1)
    lab, n = ndimage.label(m)
    objs = ndimage.find_objects(lab)
    sizes = ndimage.sum(m, lab, range(1, n + 1)) if n else []
    blobs.append([(2*s[1].start, 2*s[0].start, 2*s[1].stop, 2*s[0].stop, 4*float(a)) for s, a in zip(objs, sizes) if a >= 125])

def iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0])); iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    i = ix * iy
    return i / ((a[2]-a[0])*(a[3]-a[1]) + (b[2]-b[0])*(b[3]-b[1]) - i)

tracks, live = [], []
for fi, bs in enumerate(blobs):
    nxt, used = [], set()
    for t in live:
        last = t['boxes'][-1]
        best = max(((iou(last, b), j) for j, b in enumerate(bs) if j not in used), default=(0, -1))
        if best[0] > 0.3:
            used.add(best[1]); t['boxes'].append(bs[best[1]]); nxt.append(t)
        else:
            tracks.append(t)
    for j, b in enumerate(bs):
        if j not in used: nxt.append({'start': fi, 'boxes': [b]})
    live = nxt
tracks += live

# Only the stretches where nobody else comes near: a cut-out must hold one person.
def near(a, b, m=24):
    return a[0]-m < b[2] and b[0] < a[2]+m and a[1]-m < b[3] and b[1] < a[3]+m
runs = []
for t in tracks:
    cur = None
    for k, b in enumerate(t['boxes']):
        alone = sum(1 for o in blobs[t['start']+k] if near(b, o)) == 1
        if alone:
            cur = cur or {'start': t['start']+k, 'boxes': []}
            cur['boxes'].append(b)
        elif cur:
            runs.append(cur); cur = None
    if cur: runs.append(cur)
tracks = runs

# The walker: one person alone for a long stretch (steady size: no merges), person-shaped, moving the furthest.
def score(t):
    bx = t['boxes']
    if len(bx) < 40: return -1
    h = np.array([b[3]-b[1] for b in bx]); w = np.array([b[2]-b[0] for b in bx]); a = np.array([b[4] for b in bx])
    if not (50 <= h.mean() <= 220) or (h / w).mean() < 1.5 or a.std() / a.mean() > 0.3: return -1
    cx = np.array([(b[0]+b[2])/2 for b in bx]); cy = np.array([(b[1]+b[3])/2 for b in bx])
    return float(np.hypot(cx[-1]-cx[0], cy[-1]-cy[0]))
best = max(tracks, key=score)
assert score(best) > 100, 'no isolated walker found'
first, boxes = best['start'], best['boxes']

# Sprites: the walker's pixels (mask feathered) cut from its frames.
sprites = []
for fi, f in enumerate(frames(src)):
    k = fi - first
    if 0 <= k < len(boxes):
        x0, y0, x1, y1, _ = boxes[k]
        x0, y0, x1, y1 = max(0, x0-8), max(0, y0-8), min(W, x1+8), min(H, y1+8)
        crop = f[y0:y1, x0:x1].astype(np.float32)
        m = np.abs(f[y0:y1, x0:x1].astype(np.int16) - p16[y0:y1, x0:x1]).max(axis=2) > 30
        m = ndimage.binary_dilation(ndimage.binary_closing(m, iterations=2), iterations=2)
        lab, n = ndimage.label(m)
        if n > 1:  # keep the walker's own blob (the biggest), not a neighbour's edge
            m = lab == (1 + int(np.argmax(ndimage.sum(m, lab, range(1, n + 1)))))
        alpha = ndimage.gaussian_filter(m.astype(np.float32), 1.5)[..., None]
        sprites.append((x0, y0, crop, alpha))

json.dump({'source': 'vtest.avi', 'plate': 'per-pixel temporal median of every 8th frame', 'loop_s': LOOP_S, 'fps': FPS_OUT,
           'walker_enters_s': [START_S + k * PERIOD_S for k in range(LOOP_S // PERIOD_S)],
           'light': 'eq brightness 0.05*sin(2*pi*t/120), contrast 1+0.04*sin(2*pi*t/120+1)', 'noise': 'temporal, luma 7, chroma 3',
           'walker_first_frame': first, 'walker_frames': len(boxes), 'walker_seconds': len(boxes) / FPS_IN,
           'first_box': boxes[0][:4], 'last_box': boxes[-1][:4]}, open(out_json, 'w'))

# 120 s at 15 fps: the plate, the walker entering at 5 s and again at 65 s at its own (10 fps) pace.
out = sys.stdout.buffer
base = plate.tobytes()
for i in range(LOOP_S * FPS_OUT):
    t = i / FPS_OUT
    k = int(((t - START_S) % PERIOD_S) * FPS_IN) if t >= START_S else -1
    if 0 <= k < len(sprites):
        x0, y0, crop, alpha = sprites[k]
        f = plate.copy()
        bg = f[y0:y0+crop.shape[0], x0:x0+crop.shape[1]].astype(np.float32)
        f[y0:y0+crop.shape[0], x0:x0+crop.shape[1]] = (crop * alpha + bg * (1 - alpha) + 0.5).astype(np.uint8)
        out.write(f.tobytes())
    else:
        out.write(base)
PY
light="eq=brightness='0.05*sin(2*PI*t/120)':contrast='1+0.04*sin(2*PI*t/120+1)':eval=frame"
noise="noise=c0s=7:c0f=t:c1s=3:c1f=t:c2s=3:c2f=t"
python3 "$tmp/quiet.py" "$src" "$tmp/bench-media.json" \
  | ff -f rawvideo -pix_fmt rgb24 -s 768x576 -r 15 -i - -filter_complex \
    "[0:v]format=yuv420p,$light,split=3[a][b][c];[a]scale=1280:720:flags=bicubic,$noise[m];[b]scale=1920:1080:flags=bicubic,$noise[h];[c]scale=640:360:flags=bicubic,$noise[s]" \
    -map '[m]' "${x264[@]}" -b:v 2M -maxrate 2M -bufsize 4M -an "$tmp/quiet-720p15.mp4" \
    -map '[h]' "${x264[@]}" -b:v 4M -maxrate 4M -bufsize 8M -an "$tmp/quiet-1080p15.mp4" \
    -map '[s]' "${x264[@]}" -b:v 512k -maxrate 512k -bufsize 1M -an "$tmp/quiet-360p15.mp4"

for f in vtest-1080p15 vtest-360p15 quiet-720p15 quiet-1080p15 quiet-360p15; do mv "$tmp/$f.mp4" "$out/$f.mp4"; done
mv "$tmp/bench-media.json" "$out/bench-media.json"
touch "$stamp"
for f in vtest-720p15 vtest-1080p15 vtest-360p15 quiet-720p15 quiet-1080p15 quiet-360p15; do
  echo "$f.mp4: $(ffprobe -v error -select_streams v:0 -count_packets -show_entries stream=width,height,r_frame_rate,nb_read_packets -of csv=p=0 "$out/$f.mp4")"
done
