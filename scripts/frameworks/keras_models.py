"""The networks framework-check times in Keras (TensorFlow backend), and their inputs and optimizers.

ResNet-50 is Keras's own (keras.applications: ResNet v1, the stride on the first 1×1 conv of a
block, and biases on every conv). BERT-base is written here from plain Keras layers, layer for
layer as trainrate's built-in `bert-base` lowers it and as torch_models.py writes it, without
dropout (trainrate does not model dropout).
"""
import math

import numpy as np
import keras
from keras import layers, ops


class AttentionProducts(layers.Layer):
    """softmax(Q·Kᵀ·scale)·V per head, from Q, K, V of shape [batch, seq, hidden]: the two attention
    products and the softmax between them, no weights (export_keras maps it to trainrate's attention)."""

    def __init__(self, heads, **kwargs):
        super().__init__(**kwargs)
        self.heads = heads

    def split(self, x, seq, head_dim):
        return ops.transpose(ops.reshape(x, (-1, seq, self.heads, head_dim)), (0, 2, 1, 3))

    def call(self, q, k, v):
        seq, hidden = q.shape[1], q.shape[2]
        head_dim = hidden // self.heads
        q, k, v = (self.split(x, seq, head_dim) for x in (q, k, v))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) * (1.0 / math.sqrt(head_dim))
        context = ops.matmul(ops.softmax(scores, axis=-1), v)
        return ops.reshape(ops.transpose(context, (0, 2, 1, 3)), (-1, seq, hidden))

    def get_config(self):
        return {**super().get_config(), "heads": self.heads}


def bert_encoder(seq_len=128, vocab=30522, positions=512, types=2, hidden=768, blocks=12, heads=12, ffn=3072,
                 classes=2):
    ids = keras.Input((seq_len,), dtype="int32", name="input_ids")
    type_ids = keras.Input((seq_len,), dtype="int32", name="token_type_ids")
    position_ids = keras.Input((seq_len,), dtype="int32", name="position_ids")
    x = layers.Add(name="embeddings")([layers.Embedding(vocab, hidden, name="word")(ids),
                                       layers.Embedding(positions, hidden, name="position")(position_ids),
                                       layers.Embedding(types, hidden, name="token_type")(type_ids)])
    x = layers.LayerNormalization(epsilon=1e-5, name="embedding_norm")(x)
    for i in range(blocks):
        q, k, v = (layers.Dense(hidden, name=f"block{i}.{n}")(x) for n in ("query", "key", "value"))
        context = AttentionProducts(heads, name=f"block{i}.attention")(q, k, v)
        x = layers.Add(name=f"block{i}.attention_residual")([x, layers.Dense(hidden, name=f"block{i}.output")(context)])
        x = layers.LayerNormalization(epsilon=1e-5, name=f"block{i}.attention_norm")(x)
        h = layers.Activation("gelu", name=f"block{i}.gelu")(layers.Dense(ffn, name=f"block{i}.up")(x))
        x = layers.Add(name=f"block{i}.output_residual")([x, layers.Dense(hidden, name=f"block{i}.down")(h)])
        x = layers.LayerNormalization(epsilon=1e-5, name=f"block{i}.output_norm")(x)
    pooled = layers.Dense(hidden, activation="tanh", name="pooler")(x[:, 0])
    logits = layers.Dense(classes, name="classifier")(pooled)
    return keras.Model([ids, type_ids, position_ids], logits, name="bert-base")


def resnet50():
    return keras.applications.ResNet50(weights=None, input_shape=(224, 224, 3), classifier_activation=None)


def build(name, seq_len):
    if name == "resnet50":
        return resnet50()
    if name == "bert-base":
        return bert_encoder(seq_len)
    raise ValueError(f"unknown network '{name}' (resnet50, bert-base)")


def sample_inputs(name, batch, seq_len, rng):
    """(inputs list, integer labels) for one training step."""
    if name == "resnet50":
        return [rng.standard_normal((batch, 224, 224, 3), dtype=np.float32)], rng.integers(0, 1000, batch)
    ids = rng.integers(0, 30522, (batch, seq_len), dtype=np.int32)
    positions = np.tile(np.arange(seq_len, dtype=np.int32), (batch, 1))
    return [ids, np.zeros_like(ids), positions], rng.integers(0, 2, batch)


def optimizer_name(name):
    return "adamw" if name == "bert-base" else "sgd"


# Keras 3 runs SGD's and AdamW's update as separate element-wise ops per variable (no fused kernel on
# TensorFlow without XLA): trainrate's `keras` optimizer form.
OPTIMIZER_FORM = "keras"


def make_optimizer(name):
    if optimizer_name(name) == "adamw":
        return keras.optimizers.AdamW(learning_rate=1e-4, weight_decay=0.01)
    return keras.optimizers.SGD(learning_rate=0.01, momentum=0.9, weight_decay=1e-4)
