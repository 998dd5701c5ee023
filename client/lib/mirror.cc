#include "client/lib/mirror.h"
