"""Tiny torch models for check_export.py, each a CALLABLE for `export-network --model module:...`."""
import os
import sys

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "frameworks"))
import torch_models  # noqa: E402


class TinyResidualCnn(nn.Module):
    """conv-BN-ReLU, 2×2 max pool, a residual conv-BN branch, PReLU (no trainrate kind: reported,
    its 8 parameters kept), global average pool, classifier."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(8)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(8, 8, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(8)
        self.prelu = nn.PReLU(8)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = self.pool(torch.relu(self.bn1(self.conv1(x))))
        x = x + self.bn2(self.conv2(x))
        return self.fc(self.gap(self.prelu(x)).flatten(1))


def tiny_cnn():
    return TinyResidualCnn(), (torch.randn(2, 3, 8, 8),)


def tiny_bert():
    """The BERT encoder framework-check times, at toy sizes: 2 blocks, hidden 16, 2 heads, seq 6."""
    model = torch_models.BertEncoder(seq_len=6, vocab=50, positions=8, types=2, hidden=16, layers=2, heads=2,
                                     ffn=32, classes=3)
    ids = torch.randint(0, 50, (2, 6))
    return model, (ids, torch.zeros_like(ids))
