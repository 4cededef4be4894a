"""The networks framework-check times in PyTorch, and their inputs and optimizers.

BERT-base is written here in plain PyTorch (no `transformers`), layer for layer as trainrate's
built-in `bert-base` lowers it, without dropout (trainrate does not model dropout, so a step with
it would time work the prediction leaves out).
"""
import math

import torch
from torch import nn
import torch.nn.functional as F


class EncoderBlock(nn.Module):
    def __init__(self, hidden, heads, ffn):
        super().__init__()
        self.heads = heads
        self.scale = 1.0 / math.sqrt(hidden // heads)
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.output = nn.Linear(hidden, hidden)
        self.attention_norm = nn.LayerNorm(hidden)
        self.up = nn.Linear(hidden, ffn)
        self.down = nn.Linear(ffn, hidden)
        self.output_norm = nn.LayerNorm(hidden)

    def split_heads(self, x):  # [b, s, hidden] -> [b, heads, s, head_dim]
        return x.unflatten(-1, (self.heads, -1)).transpose(1, 2)

    def forward(self, x):
        q, k, v = self.split_heads(self.query(x)), self.split_heads(self.key(x)), self.split_heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-2, -1)) * self.scale
        context = torch.matmul(torch.softmax(scores, dim=-1), v)
        x = self.attention_norm(x + self.output(context.transpose(1, 2).flatten(2)))
        return self.output_norm(x + self.down(F.gelu(self.up(x))))


class BertEncoder(nn.Module):
    """Embeddings (word + position + token type, LayerNorm), blocks, pooler (tanh on the first token),
    classifier. Defaults are BERT-base."""

    def __init__(self, seq_len=128, vocab=30522, positions=512, types=2, hidden=768, layers=12, heads=12,
                 ffn=3072, classes=2):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.position = nn.Embedding(positions, hidden)
        self.token_type = nn.Embedding(types, hidden)
        self.register_buffer("position_ids", torch.arange(seq_len).unsqueeze(0), persistent=False)
        self.embedding_norm = nn.LayerNorm(hidden)
        self.blocks = nn.Sequential(*[EncoderBlock(hidden, heads, ffn) for _ in range(layers)])
        self.pooler = nn.Linear(hidden, hidden)
        self.classifier = nn.Linear(hidden, classes)

    def forward(self, input_ids, token_type_ids):
        positions = self.position(self.position_ids.expand_as(input_ids))
        x = self.embedding_norm(self.word(input_ids) + positions + self.token_type(token_type_ids))
        x = self.blocks(x)
        return self.classifier(torch.tanh(self.pooler(x[:, 0])))


def bert_base(seq_len):
    return BertEncoder(seq_len=seq_len)


def resnet50():
    import torchvision
    return torchvision.models.resnet50(weights=None)


def sample_inputs(name, batch, seq_len, generator=None):
    """(inputs tuple, integer labels) for one training step."""
    if name == "resnet50":
        return (torch.randn(batch, 3, 224, 224, generator=generator),), torch.randint(0, 1000, (batch,), generator=generator)
    ids = torch.randint(0, 30522, (batch, seq_len), generator=generator)
    return (ids, torch.zeros_like(ids)), torch.randint(0, 2, (batch,), generator=generator)


def build(name, seq_len):
    if name == "resnet50":
        return resnet50()
    if name == "bert-base":
        return bert_base(seq_len)
    raise ValueError(f"unknown network '{name}' (resnet50, bert-base)")


def optimizer_name(name):
    """What each network trains with here: SGD with momentum for CNNs, AdamW for transformers."""
    return "adamw" if name == "bert-base" else "sgd"


# How torch.optim's SGD and AdamW run their step by default (no fused=True): a chain of element-wise
# ops over each parameter (per tensor on CPU, for-each over the list on CUDA; the same passes), which
# trainrate predicts as the optimizer's `torch` form.
OPTIMIZER_FORM = "torch"


def make_optimizer(name, parameters):
    if optimizer_name(name) == "adamw":
        return torch.optim.AdamW(parameters, lr=1e-4, weight_decay=0.01)
    return torch.optim.SGD(parameters, lr=0.01, momentum=0.9, weight_decay=1e-4)
