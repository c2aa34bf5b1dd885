#!/bin/bash
# The H200 figures of docs/dreamer.md (DreamerV3 on a GPU): runs on a device machine from the
# repository root, with the debug-profile binary and Vulkan loaders carried along.
#
# Prepare here (x86-64):
#   cargo build && strip -o /tmp/gr target/debug/genreward && mkdir -p .gpu && xz -T2 -6 -c /tmp/gr > .gpu/gr.xz
#   echo /.gpu/ >> .git/info/exclude   # and the .gl loader debs, as the device README says
# Then run this script there with `.gl` and `.gpu` carried. It benchmarks the simulator and
# renderer, trains four reach agents side by side on the GPU for M minutes each (default 6.5),
# and packs each run's metrics, config, meta, model and last videos into $OUT/<run>.tgz.
for f in .gl/*.deb; do dpkg -x $f /; done; ldconfig
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
[ -f $icd ] && ! ls /usr/share/vulkan/icd.d/nvidia* >/dev/null 2>&1 && export VK_DRIVER_FILES=$icd
export XDG_RUNTIME_DIR=/tmp WGPU_BACKEND=vulkan
python3 -c "import lzma,shutil; shutil.copyfileobj(lzma.open('.gpu/gr.xz'), open('/tmp/gr','wb'))" && chmod +x /tmp/gr || exit 1
{ nvidia-smi -L; ldd --version | head -1; nproc; } 2>&1 | tee $OUT/log.txt
/tmp/gr bench --task reach --policy random --steps 320 --envs 16 --camera corner2 2>&1 | tail -1 | tee -a $OUT/log.txt
M=${M:-6.5}
common="--task reach --device wgpu --envs 16 --train-ratio 32 --warmup 100 --minutes $M --eval-episodes 50 --eval-every 1000000 --checkpoint-every 1000000"
timeout 530 /tmp/gr train dreamer $common --out /tmp/A --lr 1e-4 > /tmp/A.log 2>&1 &
timeout 530 /tmp/gr train dreamer $common --out /tmp/B --lr 3e-4 > /tmp/B.log 2>&1 &
timeout 530 /tmp/gr train dreamer $common --out /tmp/C --lr 1e-4 --state > /tmp/C.log 2>&1 &
timeout 530 /tmp/gr train dreamer $common --out /tmp/D --lr 1e-4 --size size12m > /tmp/D.log 2>&1 &
sleep 60; nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv >> $OUT/log.txt
wait
for r in A B C D; do
  echo "== $r" >> $OUT/log.txt; tail -c 3000 /tmp/$r.log | tr '\r' '\n' | tail -5 >> $OUT/log.txt
  grep '"kind":"train"' /tmp/$r/metrics.jsonl | tail -1 >> $OUT/log.txt
  files="metrics.jsonl config.json meta.json"
  [ $r != D ] && files="$files model.mpk $(cd /tmp/$r && ls eval_*.mp4 openloop_*.mp4 | tail -2)"
  tar czf $OUT/$r.tgz -C /tmp/$r $files
done
ls -la $OUT >> $OUT/log.txt; cat $OUT/log.txt
