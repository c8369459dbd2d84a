"""PyTorch on the same GPU as the peer of bench/gpu/device-bench.mjs (run on the device machine).

DenseNet121's convolutional base (torchvision, random weights: nothing to download) on 160x160
images, batch 32, in inference: images/s in float32 (TF32 off, the same arithmetic as the WebGPU
routes) and in bfloat16 autocast; and one training step of the whole network at batch 32 in float32.
Prints one JSON line. Arguments: batches to time (default 20).
"""
import json
import sys
import time

import torch
import torchvision


def main():
    batches = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    if not torch.cuda.is_available():
        print(json.dumps({'error': 'torch sees no CUDA device'}))
        return
    device = torch.device('cuda')
    torch.manual_seed(0)
    model = torchvision.models.densenet121(weights=None).features.to(device).eval()
    x = torch.randn(32, 3, 160, 160, device=device)
    result = {'torch': torch.__version__, 'gpu': torch.cuda.get_device_name(0)}
    for mode in ('fp32', 'bf16'):
        torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
        with torch.no_grad(), torch.autocast('cuda', dtype=torch.bfloat16, enabled=(mode == 'bf16')):
            for _ in range(3):
                model(x)
            torch.cuda.synchronize()
            started = time.perf_counter()
            for _ in range(batches):
                model(x)
            torch.cuda.synchronize()
        result[f'{mode}_images_per_second'] = 32 * batches / (time.perf_counter() - started)
    # One training step of the whole base plus a linear head (fine-tuning everything), float32.
    train = torchvision.models.densenet121(weights=None, num_classes=10).to(device).train()
    opt = torch.optim.Adam(train.parameters(), lr=1e-5)
    y = torch.randint(0, 10, (32,), device=device)
    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(train(x), y).backward()
        opt.step()
    for _ in range(3):
        step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(10):
        step()
    torch.cuda.synchronize()
    result['full_training_step_seconds'] = (time.perf_counter() - started) / 10
    print(json.dumps(result))


main()
