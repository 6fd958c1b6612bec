#pragma once
// Azure Storage connection strings ("AccountName=...;AccountKey=...;BlobEndpoint=...") parsed
// strictly into the blob endpoint and the credential they describe. Pure: no I/O, no
// environment. Every error is errc::invalid_setting with a message that names the problem and
// never contains the account key or the SAS token.

#include "cloud/s3/aws_sigv4.hpp" // aws::secret: a value that never prints

#include <string>
#include <string_view>

namespace statestore::azure {

/// The account, key and endpoint of Azurite's (and the old storage emulator's) well-known
/// development account, used for `UseDevelopmentStorage=true`. The key is public
/// (Microsoft documents it) and only opens the local emulator.
inline constexpr std::string_view development_account = "devstoreaccount1";
inline constexpr std::string_view development_key =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
inline constexpr std::string_view development_blob_endpoint =
    "http://127.0.0.1:10000/devstoreaccount1";

/// A blob service URL split for requests: where to connect and the path every resource path
/// starts with ("" for https://acct.blob.core.windows.net, "/devstoreaccount1" for Azurite's
/// path-style URLs).
struct blob_service_url {
    std::string scheme;    ///< "http" or "https"
    std::string authority; ///< "host[:port]" as written (IPv6 in brackets)
    std::string base_path; ///< no trailing slash; "" or "/seg[/seg...]"
    std::string query;     ///< without '?': a SAS token when the URL carried one

    /// "scheme://authority" (what http_endpoint::parse takes).
    std::string origin() const { return scheme + "://" + authority; }
    /// "scheme://authority/base_path", without the query (safe to print).
    std::string to_string() const { return origin() + base_path; }
};

/// Splits an http(s) service URL. Throws invalid_setting naming `what` (e.g. "BlobEndpoint")
/// for another scheme, no host, a fragment, or a path with "." / ".." / empty segments. The
/// query is kept verbatim; the message never contains it.
blob_service_url parse_blob_service_url(std::string_view url, std::string_view what);

/// The account name a service URL implies: the first label of "<account>.blob.<suffix>", else
/// (IP or localhost hosts, path-style as Azurite) the first path segment. "" when neither fits.
std::string account_from_url(const blob_service_url& url);

struct connection_string {
    std::string account_name; ///< "" only with a SAS and an explicit BlobEndpoint
    /// Base64 AccountKey as written (validated); empty when the string has none.
    aws::secret account_key;
    /// SharedAccessSignature without a leading '?'; sent untouched. Takes precedence over
    /// the account key, as in the Azure SDKs.
    aws::secret sas;
    blob_service_url blob_endpoint; ///< BlobEndpoint, or derived from protocol/account/suffix
    bool development_storage = false; ///< UseDevelopmentStorage=true

    bool uses_sas() const noexcept { return !sas.empty(); }
};

/// Parses `text`. Keys compare case-insensitively; values may contain '='. Empty segments
/// (a trailing ';') are allowed. Accepted keys: DefaultEndpointsProtocol (http|https),
/// AccountName, AccountKey (strict base64), BlobEndpoint, EndpointSuffix,
/// SharedAccessSignature, UseDevelopmentStorage (only "true", and then alone), and the other
/// services' endpoints (QueueEndpoint, TableEndpoint, FileEndpoint, which are ignored).
/// Rejected, with invalid_setting: an empty string, a segment without '=', an empty key or
/// value, an unknown or repeated key, a bad protocol, a key that is not base64, a BlobEndpoint
/// that is not an http(s) URL, neither AccountKey nor SharedAccessSignature, an AccountKey
/// without AccountName, and no way to know the endpoint (no BlobEndpoint and no AccountName).
connection_string parse_connection_string(std::string_view text);

/// Strict standard base64 (RFC 4648 section 4, padding required, no whitespace). nullopt-like
/// contract: returns false and leaves `out` unspecified when `text` is not valid.
bool base64_decode(std::string_view text, std::string& out);
std::string base64_encode(std::string_view bytes);

} // namespace statestore::azure
