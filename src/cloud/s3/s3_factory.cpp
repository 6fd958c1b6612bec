// s3://[key:secret@]bucket[/prefix] -> an s3_store, configured by resolve_s3_config from the
// settings, the URI, the environment and the AWS shared files.
#include "open/cloud_factories.hpp"

#include "cloud/s3/s3_store.hpp"

namespace statestore::detail {

opened_blob_store open_s3_store(boost::asio::any_io_executor executor, const settings& s,
                                const backend_uri& uri)
{
    s3_store_options options;
    options.config = resolve_s3_config(s.s3, uri.host, uri.userinfo, process_env(),
                                       read_whole_file());
    options.http.tls.ca_file = options.config.ca_file;
    options.http.max_connections_per_endpoint = s.http_max_connections;
    options.warn = s.warn;
    if (const char* probe = std::getenv("STATESTORE_S3_PROBE_PRECONDITIONS"))
        options.probe_preconditions = std::string_view(probe) != "0";
    opened_blob_store out;
    out.prefix = uri.path;
    out.uri_for_messages = "s3://" + uri.host + (uri.path.empty() ? "" : "/" + uri.path);
    out.store = std::make_shared<s3_store>(std::move(executor), std::move(options));
    return out;
}

} // namespace statestore::detail
