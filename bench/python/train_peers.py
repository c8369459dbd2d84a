"""PyTorch peers of the training steps `npm run bench` times on TensorFlow.js (bench/train-steps.ts).

Run by the bench with Debian's python3-torch; prints one JSON line:
  cnn:          seconds per epoch of the Carpentries episode-4 CNN (64x64x3 images, batch 32, adam),
                NHWC-equivalent layers in NCHW, on `images` random images;
  densenet_top: seconds per epoch of DenseNet121's last dense layer (conv5_block16: BN, ReLU, 1x1 conv
                to 128, BN, ReLU, 3x3 conv to 32, concatenation), its final BN and ReLU, global max
                pooling and the lesson's head, trained on features at its input [N, 992, 5, 5],
                BatchNormalization in inference mode as in fine-tuning (Keras' guide).
Times are the median of `repeats` epochs after one warm-up epoch, with the threads torch uses by
default (torch.get_num_threads(), reported).
"""
import json
import statistics
import sys
import time

import torch
from torch import nn


def cnn():
    return nn.Sequential(
        nn.Conv2d(3, 50, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(50, 50, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(50 * 14 * 14, 50), nn.ReLU(), nn.Linear(50, 10))


class DenseNetTop(nn.Module):
    def __init__(self):
        super().__init__()
        self.bn0, self.conv1 = nn.BatchNorm2d(992, eps=1.001e-5), nn.Conv2d(992, 128, 1, bias=False)
        self.bn1, self.conv2 = nn.BatchNorm2d(128, eps=1.001e-5), nn.Conv2d(128, 32, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(1024, eps=1.001e-5)
        self.head = nn.Sequential(nn.Flatten(), nn.BatchNorm1d(1024, eps=1e-3), nn.Linear(1024, 50), nn.ReLU(), nn.Dropout(0.5), nn.Linear(50, 10))

    def forward(self, x):
        y = self.conv1(torch.relu(self.bn0(x)))
        y = self.conv2(torch.relu(self.bn1(y)))
        y = torch.relu(self.bn(torch.cat([x, y], 1)))
        return self.head(torch.amax(y, dim=(2, 3)))


def epoch_seconds(model, x, y, batch, repeats, eval_modules=()):
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad])
    def epoch():
        model.train()
        for m in eval_modules:
            m.eval()  # BatchNormalization in inference mode while its gamma and beta train
        for i in range(0, x.shape[0], batch):
            opt.zero_grad()
            nn.functional.cross_entropy(model(x[i:i + batch]), y[i:i + batch]).backward()
            opt.step()
    epoch()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    images, repeats = int(sys.argv[1]), int(sys.argv[2])
    torch.manual_seed(0)
    x = torch.rand(images, 3, 64, 64)
    y = torch.randint(0, 10, (images,))
    result = {'threads': torch.get_num_threads(), 'images': images}
    result['cnn'] = epoch_seconds(cnn(), x, y, 32, repeats)
    top = DenseNetTop()
    features = torch.rand(images, 992, 5, 5)
    result['densenet_top'] = epoch_seconds(top, features, y, 32, repeats, eval_modules=(top.bn0, top.bn1, top.bn))
    print(json.dumps(result))


main()
