// The network-derived suites: problems of real networks' layers, lowered by problems/network.hpp.
#pragma once

#include "problems/suite.hpp"

namespace trainrate {

// The distinct problems of one ResNet-50 training step (training_problems): what `predict` and
// `replay` of resnet50 need at that batch and image size.
Suite resnet50_suite(const SuiteParams& params);
// The distinct problems of one BERT-base training step (its 12 blocks share their shapes).
Suite transformer_suite(const SuiteParams& params);

}  // namespace trainrate
