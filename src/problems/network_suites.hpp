// The network-derived suites: problems of real networks' layers, lowered by problems/network.hpp.
#pragma once

#include "problems/suite.hpp"

namespace trainrate {

// Every distinct ResNet-50 convolution in forward, backward-data and backward-filter, plus its FC GEMMs.
Suite resnet50_suite(const SuiteParams& params);
// The GEMMs of one BERT-base encoder layer: forward and both backward products.
Suite transformer_suite(const SuiteParams& params);

}  // namespace trainrate
