#pragma once
// AWS Signature Version 4 as a chain of small pure stages: canonical request, string to sign,
// signing key, signature; then the two ways of attaching it (Authorization header, presigned
// query string). No I/O and no clock: the time is an argument, so every stage can be checked
// byte for byte against AWS's published vectors.
//
// Two path rules exist. The generic AWS test suite (service "service") encodes the path a
// second time and normalises it; S3 signs the path exactly as it is sent, already encoded once,
// and never normalises it, because "a//b" and "a/./b" are distinct object keys.

#include <array>
#include <chrono>
#include <iosfwd>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace statestore::aws {

/// A credential that must never reach a log, a message or an exception. Streaming it prints
/// `***`; the value is only reachable through reveal(), which the signer alone calls.
class secret {
public:
    secret() = default;
    explicit secret(std::string value) : value_(std::move(value)) {}

    /// The plain value. Call only to compute a signature or to put a session token on the
    /// wire; never format it.
    const std::string& reveal() const noexcept { return value_; }
    bool empty() const noexcept { return value_.empty(); }

    friend std::ostream& operator<<(std::ostream& os, const secret& s);

private:
    std::string value_;
};

/// The long-term (or temporary, with a session token) AWS credentials. The access key id is
/// not secret (it is part of every Authorization header); the other two are.
struct credentials {
    std::string access_key_id;
    secret secret_access_key;
    secret session_token; ///< empty when the credentials are not temporary
};

struct header {
    std::string name;
    std::string value;
    friend bool operator==(const header&, const header&) = default;
};

/// A query parameter, decoded (the signer does the encoding). An empty value is signed as
/// `name=`, as S3 expects for sub-resources such as `?lifecycle` or `?uploads`.
struct query_param {
    std::string name;
    std::string value;
    friend bool operator==(const query_param&, const query_param&) = default;
};

inline constexpr std::string_view algorithm = "AWS4-HMAC-SHA256";
inline constexpr std::string_view unsigned_payload = "UNSIGNED-PAYLOAD";
/// sha256_hex("") — the payload hash of every request without a body.
inline constexpr std::string_view empty_payload_sha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// How the path becomes the canonical URI.
enum class signing_mode {
    /// S3: the path is signed as sent (it must already be URI-encoded once, e.g. each key
    /// built with uri_encode(key, false)); no normalisation.
    s3,
    /// Every other service: dot segments removed and duplicate slashes collapsed (RFC 3986
    /// section 5.2.4), then the result URI-encoded again ("double encoding").
    generic,
    /// Double encoding without normalisation (the suite's `"normalize": false` cases).
    generic_unnormalized,
};

/// What to sign. Build one per logical request and sign it afresh for every attempt.
struct request {
    std::string method;             ///< upper case, e.g. "GET"
    std::string path = "/";         ///< as sent on the wire, without the query; see signing_mode
    std::vector<query_param> query; ///< decoded; order and repetition are free
    /// Every header to sign, Host included. Names are case-insensitive; repeated names and
    /// values folded over several lines are allowed. Must not contain the headers the signer
    /// owns (Authorization, X-Amz-Date, X-Amz-Security-Token, and X-Amz-Content-SHA256 when
    /// the signer adds it).
    std::vector<header> headers;
    /// Lower-case hex SHA-256 of the body, or unsigned_payload.
    std::string payload_hash{empty_payload_sha256};
};

/// When sign_headers adds (and signs) `X-Amz-Content-SHA256: <payload hash>`.
enum class content_hash_header {
    if_s3,  ///< when the service is "s3", which requires it
    always, ///< e.g. the suite's `"sign_body": true` cases
    never,
};

struct signing_options {
    std::string region;  ///< e.g. "us-east-1"
    std::string service; ///< e.g. "s3"
    /// The signing time; sub-second parts are dropped. Inject it: the signer never reads a
    /// clock.
    std::chrono::system_clock::time_point time;
    /// Unset: signing_mode::s3 for service "s3", signing_mode::generic otherwise.
    std::optional<signing_mode> mode;
    content_hash_header content_hash = content_hash_header::if_s3;
    /// False sends the session token without signing it (a few services, e.g. IoT, want the
    /// token added after signing; the suite's `"omit_session_token": true`).
    bool sign_session_token = true;
    /// Lifetime of a presigned request: 1 second to 7 days (S3's limit).
    std::chrono::seconds expires{3600};
    /// Optional cache of the derived signing key (4 HMACs, about half the cost of a
    /// signature). Used when its date stamp equals this signature's date; otherwise the key
    /// is derived and the cache refreshed. One cache per secret, region and service.
    struct key_cache {
        std::string date;
        std::array<unsigned char, 32> key{};
    };
    key_cache* signing_key_cache = nullptr;
};

/// The outcome of one signature. The intermediate texts are kept for tests and for
/// diagnosing SignatureDoesNotMatch (S3 returns its own CanonicalRequest to compare with).
///
/// Secrets: `headers` and `query` carry the session token and the signature, and
/// `canonical_request` carries the session token when it is signed in a header. They are meant
/// for the wire; redact them (is_sensitive_header / is_sensitive_query_param) before logging.
/// The secret access key appears in none of the fields.
struct signing_result {
    std::vector<header> headers;    ///< sign_headers: the headers to add; presign: empty
    std::vector<query_param> query; ///< presign: the parameters to add; sign_headers: empty
    std::string canonical_request;
    std::string string_to_sign;
    std::string signature; ///< 64 lower-case hex digits
};

using digest = std::array<unsigned char, 32>;

// ---- Stages. Each is a pure function of its arguments. ----------------------------------

/// Lower-case hex of `bytes`.
std::string to_hex(std::span<const unsigned char> bytes);

/// Lower-case hex SHA-256 of `bytes`. Throws std::runtime_error only if OpenSSL itself fails
/// (allocation failure, or a configuration without SHA-256); so do the other crypto stages.
std::string sha256_hex(std::string_view bytes);

/// HMAC-SHA256 of `data` under `key`.
digest hmac_sha256(std::span<const unsigned char> key, std::string_view data);
digest hmac_sha256(std::string_view key, std::string_view data);

/// SigV4 URI encoding: every byte except the RFC 3986 unreserved characters (A-Z a-z 0-9
/// - . _ ~) becomes %XX with upper-case hex; '/' is kept unless `encode_slash`. Space is %20,
/// never '+'. Bytes are encoded as they are; UTF-8 text comes out as its encoded bytes.
std::string uri_encode(std::string_view text, bool encode_slash);

/// RFC 3986 dot-segment removal plus collapsing of empty segments: "//a/./b/../c/" -> "/a/c/".
/// The result is absolute; a trailing slash (or a final "." or "..") keeps the path a
/// directory. An empty path becomes "/".
std::string normalize_path(std::string_view path);

/// The canonical URI of `path` under `mode` (see signing_mode). An empty path is "/".
std::string canonical_uri(std::string_view path, signing_mode mode);

/// The canonical query string: names and values URI-encoded ('/' too), pairs sorted by
/// encoded name then encoded value, joined with '&'. It is also a valid query string to send:
/// sending exactly this text guarantees the server canonicalises to what was signed.
std::string canonical_query(std::span<const query_param> params);

/// Canonical header block and signed-header list.
struct canonical_header_list {
    /// "name:value\n" per distinct name: names lower-cased and sorted; values trimmed, inner
    /// whitespace runs (line folds included) collapsed to one space; repeated names joined
    /// with ',' in their original order.
    std::string canonical;
    std::string signed_names; ///< the names joined with ';'
};
canonical_header_list canonical_headers(std::span<const header> headers);

/// method, URI, query, header block, signed names and payload hash, one per line.
std::string canonical_request(std::string_view method, std::string_view canonical_uri,
                              std::string_view canonical_query,
                              const canonical_header_list& headers, std::string_view payload_hash);

/// "YYYYMMDDTHHMMSSZ" in UTC, the X-Amz-Date format.
std::string amz_date(std::chrono::system_clock::time_point time);
/// "YYYYMMDD" in UTC, the date of the credential scope.
std::string date_stamp(std::chrono::system_clock::time_point time);

/// "date/region/service/aws4_request".
std::string credential_scope(std::string_view date, std::string_view region,
                             std::string_view service);

/// algorithm, amz date, scope and the hex SHA-256 of the canonical request, one per line.
std::string string_to_sign(std::string_view amz_date, std::string_view scope,
                           std::string_view canonical_request_hash);

/// HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request". The key is as
/// sensitive as the secret for that day, region and service: do not log it.
digest signing_key(const secret& secret_access_key, std::string_view date, std::string_view region,
                   std::string_view service);

/// Hex HMAC-SHA256 of the string to sign under the signing key.
std::string signature(const digest& signing_key, std::string_view string_to_sign);

/// "AWS4-HMAC-SHA256 Credential=<id>/<scope>, SignedHeaders=<names>, Signature=<hex>".
std::string authorization_header(std::string_view access_key_id, std::string_view scope,
                                 std::string_view signed_headers, std::string_view signature);

// ---- Whole signatures. ------------------------------------------------------------------

/// Signs `req` for the Authorization header. result.headers are the headers to add to the
/// request as sent: X-Amz-Date, X-Amz-Security-Token (with a session token),
/// X-Amz-Content-SHA256 (see content_hash_header) and Authorization.
/// Throws std::invalid_argument if `req` already has a header the signer owns.
signing_result sign_headers(const request& req, const credentials& creds,
                            const signing_options& options);

/// The same with default options: mode from the service unless given.
signing_result sign_headers(const request& req, const credentials& creds, std::string_view region,
                            std::string_view service, std::chrono::system_clock::time_point time,
                            std::optional<signing_mode> mode = std::nullopt);

/// Signs `req` in the query string (a presigned URL). result.query are the parameters to add:
/// X-Amz-Algorithm, X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders,
/// X-Amz-Security-Token (with a session token) and X-Amz-Signature. Every header of `req` is
/// signed and must be sent as is. For S3 set req.payload_hash to unsigned_payload.
/// Throws statestore::error(invalid_setting) if options.expires is outside 1 s .. 7 days, and
/// std::invalid_argument if `req` already has an X-Amz-* signing parameter, an Authorization,
/// X-Amz-Date or X-Amz-Security-Token header.
signing_result presign(const request& req, const credentials& creds,
                       const signing_options& options);

/// True for headers that carry a credential (Authorization, X-Amz-Security-Token and SSE-C
/// customer keys); names compare case-insensitively. Redact their values in logs and errors.
bool is_sensitive_header(std::string_view name) noexcept;

/// True for query parameters that carry a credential (X-Amz-Signature, X-Amz-Security-Token).
bool is_sensitive_query_param(std::string_view name) noexcept;

} // namespace statestore::aws
