// Placeholder until the s3 store lands: the scheme is recognised, the store is not built.
#include "cloud_factories.hpp"

#include "statestore/error.hpp"

namespace statestore::detail {

opened_blob_store open_s3_store(boost::asio::any_io_executor, const settings&,
                                 const backend_uri&)
{
    throw_error(errc::unsupported_backend,
                "the 's3' state backend is not available in this build of statestore");
}

} // namespace statestore::detail
