#include "problems/network_suites.hpp"

#include <fmt/format.h>

#include "problems/network.hpp"

namespace trainrate {

Suite resnet50_suite(const SuiteParams& params) {
  const int64_t batch = params.batch.value_or(16), image_size = params.image_size.value_or(224);
  Suite suite{"resnet50",
              fmt::format("ResNet-50 at batch {}, {}x{} images: every distinct conv in three passes and the FC",
                          batch, image_size, image_size),
              training_problems(resnet50(batch, image_size))};
  return suite;
}

Suite transformer_suite(const SuiteParams& params) {
  const int64_t batch = params.batch.value_or(8), seq_len = params.seq_len.value_or(128);
  // One encoder block: the blocks of BERT-base are identical, so their GEMMs are the block's.
  Network bert = bert_base(batch, seq_len);
  std::erase_if(bert.layers, [](const Layer& layer) { return !layer.name.starts_with("encoder"); });
  Suite suite{"transformer",
              fmt::format("one BERT-base encoder layer at batch {}, sequence {}: forward and both backward GEMMs",
                          batch, seq_len),
              training_problems(bert)};
  return suite;
}

}  // namespace trainrate
