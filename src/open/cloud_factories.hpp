#pragma once
// One opener per cloud scheme, each in its own translation unit (src/s3, src/azure,
// src/gcs), so backend_factory.cpp stays free of Beast and of every store's details.

#include "statestore/backend_factory.hpp"

#include <boost/asio/any_io_executor.hpp>

namespace statestore::detail {

opened_blob_store open_s3_store(boost::asio::any_io_executor executor, const settings& s,
                                const backend_uri& uri);
opened_blob_store open_azure_store(boost::asio::any_io_executor executor, const settings& s,
                                   const backend_uri& uri);
opened_blob_store open_gcs_store(boost::asio::any_io_executor executor, const settings& s,
                                 const backend_uri& uri);

} // namespace statestore::detail
