"""Reference values for tslab-dl's losses and accuracy, computed with torch in float64.

Reads JSON from stdin: a list of cases {"yPred": [[...]], "labels": [...], "fromLogits": bool}.
Writes JSON to stdout: one {"loss": float, "accuracy": float} per case.

Keras' SparseCategoricalCrossentropy (tf-keras backend.sparse_categorical_crossentropy):
- from logits: sparse_softmax_cross_entropy_with_logits(labels, logits), mean over the batch;
- from probabilities: the same applied to log(clip(p, 1e-7, 1 - 1e-7)).
torch.nn.functional.cross_entropy computes exactly softmax cross-entropy with a mean reduction,
independently of TensorFlow.js.
"""
import json
import sys

import torch
import torch.nn.functional as F

EPSILON = 1e-7

results = []
for case in json.load(sys.stdin):
    y_pred = torch.tensor(case["yPred"], dtype=torch.float64)
    labels = torch.tensor(case["labels"], dtype=torch.int64).reshape(-1)
    logits = y_pred if case["fromLogits"] else torch.log(torch.clamp(y_pred, EPSILON, 1 - EPSILON))
    loss = F.cross_entropy(logits, labels, reduction="mean").item()
    accuracy = (y_pred.argmax(dim=-1) == labels).double().mean().item()
    results.append({"loss": loss, "accuracy": accuracy})
json.dump(results, sys.stdout)
