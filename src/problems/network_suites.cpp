#include "problems/network_suites.hpp"

#include <fmt/format.h>

#include "problems/network.hpp"

namespace trainrate {

Suite resnet50_suite(const SuiteParams& params) {
  const int64_t batch = params.batch.value_or(16), image_size = params.image_size.value_or(224);
  return Suite{"resnet50",
               fmt::format("ResNet-50 at batch {}, {}x{} images: every distinct problem of a training step (convs in "
                           "three passes, the FC, batch norms, ReLUs, adds, pools, loss, SGD step)",
                           batch, image_size, image_size),
               training_problems(resnet50(batch, image_size))};
}

Suite transformer_suite(const SuiteParams& params) {
  const int64_t batch = params.batch.value_or(8), seq_len = params.seq_len.value_or(128);
  // The blocks of BERT-base are identical, so one block's problems are every block's.
  return Suite{"transformer",
               fmt::format("BERT-base at batch {}, sequence {}: every distinct problem of a training step (the "
                           "GEMMs of one encoder block and the heads, norms, GELU, softmax, adds, embeddings, loss, "
                           "AdamW step)",
                           batch, seq_len),
               training_problems(bert_base(batch, seq_len))};
}

}  // namespace trainrate
