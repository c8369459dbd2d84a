"""PyTorch peers of the DenseNet121 base and of the lesson that `npm run bench` times (bench/torch-peers.ts).

Run by the bench with Debian's python3-torch and python3-torchvision; prints one JSON line:
  base:   images/s of DenseNet121's base as the lesson uses it (torchvision's densenet121 features,
          ReLU, global max pooling: Keras' include_top=False, pooling='max'), 160x160x3, batch 32,
          random weights, eval mode under torch.inference_mode, for each variant: the default
          layout (NCHW float32), channels_last float32, and bfloat16 autocast (labelled by whether
          the CPU has AMX); the median of `batches` timed batches after a warm-up batch;
  macs_per_image: multiply-adds per image of the base's convolutions (forward hooks);
  lesson: the lesson the Keras way (the whole model on every batch: 64x64 images upscaled to 160
          bilinearly, the frozen base in eval mode, the lesson's head trained with Adam on
          cross-entropy from logits), one epoch of 878 training and 293 validation images at batch
          32 timed after a warm-up batch (--quick times fewer images and scales per image).
Each figure is given for torch's default number of threads (torch.get_num_threads()) and, when
that is fewer than the CPU's cores, for all cores too.

    /usr/bin/python3 bench/python/base_peers.py [--quick]
"""
import json
import os
import statistics
import sys
import time

import torch
import torchvision
from torch import nn

BATCH = 32
SIZE = 160
TRAIN_IMAGES, VALIDATION_IMAGES = 878, 293


def cpu_flags():
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('flags'):
                    return set(line.split(':', 1)[1].split())
    except OSError:
        pass
    return set()


class Base(nn.Module):
    """DenseNet121 without its top, global max pooling: [N, 3, 160, 160] -> [N, 1024]."""

    def __init__(self):
        super().__init__()
        # torchvision's features end in the final BatchNorm; Keras' base applies the ReLU after it.
        self.features = torchvision.models.densenet121(weights=None).features

    def forward(self, x):
        return torch.amax(torch.relu(self.features(x)), dim=(2, 3))


def macs_per_image(base):
    """Multiply-adds per image of the base's convolutions and dense layers, counted by forward hooks."""
    total = [0]

    def hook(module, inputs, output):
        per_output = module.weight.shape[1] * (module.weight[0, 0].numel() if isinstance(module, nn.Conv2d) else 1)
        total[0] += output.numel() * per_output

    handles = [m.register_forward_hook(hook) for m in base.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    try:
        with torch.inference_mode():
            base(torch.rand(1, 3, SIZE, SIZE))
    finally:
        for h in handles:
            h.remove()
    return total[0]


def time_base(base, x, batches, autocast):
    with torch.inference_mode(), torch.autocast('cpu', dtype=torch.bfloat16, enabled=autocast):
        y = base(x)  # warm-up: oneDNN creates its primitives on the first call
        times = []
        for _ in range(batches):
            t = time.perf_counter()
            y = base(x)
            times.append(time.perf_counter() - t)
    seconds = statistics.median(times)
    return {
        'images_per_second': x.shape[0] / seconds,
        'fastest_images_per_second': x.shape[0] / min(times),
        'seconds_per_batch': times,
        'output_finite': bool(torch.isfinite(y.float()).all()),
    }


def base_variants(threads, batches, flags):
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    base = Base().eval()
    x = torch.rand(BATCH, 3, SIZE, SIZE)
    results = [{'variant': 'default', 'label': 'default layout (NCHW, float32)', 'threads': threads,
                **time_base(base, x, batches, False)}]
    base = base.to(memory_format=torch.channels_last)
    x = x.contiguous(memory_format=torch.channels_last)
    results.append({'variant': 'channels_last', 'label': 'channels_last, float32', 'threads': threads,
                    **time_base(base, x, batches, False)})
    bf16 = {'variant': 'bf16_amx', 'label': 'bfloat16 autocast, AMX', 'threads': threads}
    if 'amx_bf16' in flags:
        results.append({**bf16, **time_base(base, x, batches, True)})
    else:
        results.append({**bf16, 'skipped': 'this CPU has no AMX (no amx_bf16 in /proc/cpuinfo flags)'})
        # Still timed, labelled: oneDNN runs bfloat16 on AVX-512 BF16 where the CPU has it, emulated otherwise.
        isa = 'avx512_bf16' if 'avx512_bf16' in flags else 'no AVX-512 BF16 either'
        results.append({'variant': 'bf16_no_amx', 'label': f'bfloat16 autocast, no AMX ({isa})', 'threads': threads,
                        **time_base(base, x, batches, True)})
    return results


class Upscale(nn.Module):
    """The lesson's 64 -> 160 resize: bilinear, half-pixel centres, no antialiasing (TF's resize)."""

    def forward(self, x):
        return nn.functional.interpolate(x, size=(SIZE, SIZE), mode='bilinear', align_corners=False)


def lesson_model():
    base = Base()
    for p in base.parameters():
        p.requires_grad_(False)
    head = nn.Sequential(
        # Keras' BatchNormalization: epsilon 1e-3, moving averages kept with momentum 0.99.
        nn.BatchNorm1d(1024, eps=1e-3, momentum=0.01),
        nn.Linear(1024, 50), nn.ReLU(), nn.Dropout(0.5), nn.Linear(50, 10))
    return nn.Sequential(Upscale(), base, head), base, head


def lesson_epoch(threads, train_images, validation_images):
    """Seconds of one Keras-way epoch, measured on the given numbers of images and scaled per image."""
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    model, base, head = lesson_model()
    opt = torch.optim.Adam(head.parameters(), lr=1e-3, eps=1e-7)  # Keras' Adam defaults
    x = torch.rand(train_images + validation_images, 3, 64, 64)
    y = torch.arange(x.shape[0]) % 10
    xt, yt = x[:train_images], y[:train_images]
    xv, yv = x[train_images:], y[train_images:]

    def train(xs, ys):
        model.train()
        base.eval()  # a frozen base runs in inference mode (Keras: trainable=False BatchNormalization)
        correct = 0
        for i in range(0, xs.shape[0], BATCH):
            opt.zero_grad()
            logits = model(xs[i:i + BATCH])
            loss = nn.functional.cross_entropy(logits, ys[i:i + BATCH])
            loss.backward()
            opt.step()
            correct += int((logits.argmax(1) == ys[i:i + BATCH]).sum())
        return correct

    def validate(xs, ys):
        model.eval()
        correct = 0
        with torch.inference_mode():
            for i in range(0, xs.shape[0], BATCH):
                logits = model(xs[i:i + BATCH])
                nn.functional.cross_entropy(logits, ys[i:i + BATCH])
                correct += int((logits.argmax(1) == ys[i:i + BATCH]).sum())
        return correct

    # Warm-up on one batch each (oneDNN primitives, Adam's state), as Keras' first step traces its graph.
    train(xt[:BATCH], yt[:BATCH])
    validate(xv[:BATCH], yv[:BATCH])
    t = time.perf_counter()
    train(xt, yt)
    train_seconds = time.perf_counter() - t
    t = time.perf_counter()
    validate(xv, yv)
    validation_seconds = time.perf_counter() - t
    per_train, per_validation = train_seconds / train_images, validation_seconds / validation_images
    epoch = TRAIN_IMAGES * per_train + VALIDATION_IMAGES * per_validation
    return {
        'threads': threads,
        'timed_train_images': train_images,
        'timed_validation_images': validation_images,
        'train_seconds_per_image': per_train,
        'validation_seconds_per_image': per_validation,
        'epoch_seconds': epoch,
        'epochs_30_seconds': 30 * epoch,
        'scaled': train_images != TRAIN_IMAGES or validation_images != VALIDATION_IMAGES,
    }


def main():
    quick = '--quick' in sys.argv[1:]
    flags = cpu_flags()
    default_threads = torch.get_num_threads()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else os.cpu_count()
    thread_counts = sorted({default_threads, max(default_threads, cores)})
    result = {
        'torch': torch.__version__,
        'torchvision': torchvision.__version__,
        'default_threads': default_threads,
        'cores': cores,
        'amx': 'amx_bf16' in flags,
        'avx512_bf16': 'avx512_bf16' in flags,
        'batch': BATCH,
        'image_size': SIZE,
        'model': 'torchvision densenet121(weights=None).features + ReLU + global max pool, 160x160x3, eval, inference_mode',
    }
    torch.manual_seed(0)
    result['macs_per_image'] = macs_per_image(Base().eval())
    result['base'] = [v for threads in thread_counts for v in base_variants(threads, 3 if quick else 5, flags)]
    images = (4 * BATCH, 2 * BATCH) if quick else (TRAIN_IMAGES, VALIDATION_IMAGES)
    result['lesson'] = [lesson_epoch(threads, *images) for threads in thread_counts]
    torch.set_num_threads(default_threads)
    print(json.dumps(result))


main()
