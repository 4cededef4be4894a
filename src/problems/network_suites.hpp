// The network-derived suites: problems of real networks' layers, lowered by problems/network.hpp.
#pragma once

#include "problems/suite.hpp"

namespace trainrate {

// Every distinct ResNet-50 convolution in forward, backward-data and backward-filter, its FC GEMMs,
// and its memory-bound layers (batch norm, ReLU, residual add, pooling, SGD) at each distinct shape.
Suite resnet50_suite(const SuiteParams& params);
// The GEMMs of one BERT-base encoder layer (forward and both backward products) and its memory-bound
// layers (layer norm, GELU, softmax, bias and residual adds, embedding, cross-entropy, AdamW).
Suite transformer_suite(const SuiteParams& params);

}  // namespace trainrate
