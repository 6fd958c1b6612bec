#pragma once
// Umbrella header: the whole public API.
#include "statestore/backend_factory.hpp"
#include "statestore/blob_state_backend.hpp"
#include "statestore/blob_store.hpp"
#include "statestore/error.hpp"
#include "statestore/json_text.hpp"
#include "statestore/merge.hpp"
#include "statestore/migrator.hpp"
#include "statestore/settings.hpp"
#include "statestore/state_backend.hpp"
#include "statestore/state_document.hpp"
#include "statestore/state_id.hpp"
#include "statestore/state_store.hpp"
