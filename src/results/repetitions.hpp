// Several runs of one suite pooled as repetitions of one run.
//
// `run --repetitions N` pools the files its N child processes write, and `compare --old A1 A2 ...`
// pools the files given for a side: the same operation, so a file's repetitions and several files
// are one concept to every reader. Each result keeps one rate, from all samples, and the median
// and kept samples of every repetition (Measurement::repetitions), which `compare` tests on.
#pragma once

#include <vector>

#include "results/result.hpp"

namespace trainrate {

// The same measurement in two runs: problem (dtype and layout included), device, backend, cache
// mode and thread count. Only such results are pooled or compared.
bool same_setup(const Result& a, const Result& b);

// One file whose results are those of `runs` pooled by same_setup, in the order they first
// appear. An ok result's samples are thinned evenly within each repetition so that all of them
// fit kMaxKeptSamples; its stats and rate come from the samples kept (the repetitions' medians
// where no file kept samples), its sample count from all taken. A result that is not ok in one
// run is that run's result, its reason naming the repetition. Host, build, options and devices
// are the first run's; `complete` when all are. Throws InputError for runs of different suites
// (`names` name the runs in the message) or no runs.
ResultsFile pool_repetitions(const std::vector<ResultsFile>& runs, const std::vector<std::string>& names);

// How many repetitions the file's ok results have, at most (1 for a single run).
size_t repetition_count(const ResultsFile& file);

}  // namespace trainrate
