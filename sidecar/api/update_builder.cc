#include "sidecar/api/update_builder.h"
