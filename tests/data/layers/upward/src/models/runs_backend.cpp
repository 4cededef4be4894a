// A model that runs a backend: the upward include check-layers must reject.
#include "backends/backend.hpp"
